//! Event time in Indonesian offices: zones, the working-day calendar, office hours.

pub mod calendar;
pub mod hours;
pub mod zone;

pub use calendar::{Calendar, Sla};
pub use hours::{OfficeHours, Opening};
pub use zone::Zone;

#[cfg(test)]
mod tests;
