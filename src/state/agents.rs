//! Submissions per `agent_ref` over a sliding event-time window, for
//! `broker_activity`: how many distinct applicants one intermediary filed for.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::decode::EventTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSubmission {
    pub at: EventTime,
    pub applicant_ref: CompactString,
    pub transaction_id: CompactString,
    pub office_id: CompactString,
    pub service_code: CompactString,
    pub event_id: CompactString,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct AgentWindow {
    /// In event-time order.
    pub submissions: VecDeque<AgentSubmission>,
    /// Trigger time of the latest alert, for the suppression period.
    pub last_alert: Option<DateTime<Utc>>,
    /// Alerts raised so far; later ones get distinct ids.
    pub alerts: u32,
}

/// A window that reached the threshold: the submissions inside it, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerWindow {
    pub end: EventTime,
    pub submissions: Vec<AgentSubmission>,
    pub distinct_applicants: usize,
}

impl AgentWindow {
    /// Adds a submission and returns the earliest window ending at a submission at
    /// or after it (a late arrival can complete a window that ends later) that
    /// holds at least `min_applicants` distinct applicants and is not suppressed.
    pub fn observe(
        &mut self,
        s: AgentSubmission,
        window: Duration,
        min_applicants: usize,
        suppress: Duration,
    ) -> Option<BrokerWindow> {
        let at = s.at.to_utc();
        let newest = self
            .submissions
            .back()
            .map_or(at, |b| b.at.to_utc().max(at));
        self.evict_before(newest - window);
        let pos = self.submissions.partition_point(|x| x.at.to_utc() <= at);
        self.submissions.insert(pos, s);
        for end_idx in pos..self.submissions.len() {
            let end = self.submissions[end_idx].at;
            if end.to_utc() - at >= window {
                break;
            }
            if self.last_alert.is_some_and(|a| end.to_utc() < a + suppress) {
                continue;
            }
            let start = end.to_utc() - window;
            let inside: Vec<&AgentSubmission> = self
                .submissions
                .iter()
                .take(end_idx + 1)
                .filter(|x| x.at.to_utc() > start)
                .collect();
            let mut applicants: Vec<&str> =
                inside.iter().map(|x| x.applicant_ref.as_str()).collect();
            applicants.sort_unstable();
            applicants.dedup();
            if applicants.len() >= min_applicants {
                self.last_alert = Some(end.to_utc());
                self.alerts += 1;
                return Some(BrokerWindow {
                    end,
                    distinct_applicants: applicants.len(),
                    submissions: inside.into_iter().cloned().collect(),
                });
            }
        }
        None
    }

    /// Forgets submissions at or before `cutoff`: they can no longer share a
    /// window with anything still to come.
    pub fn evict_before(&mut self, cutoff: DateTime<Utc>) {
        while self
            .submissions
            .front()
            .is_some_and(|x| x.at.to_utc() <= cutoff)
        {
            self.submissions.pop_front();
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Agents {
    by_agent: HashMap<CompactString, AgentWindow, ahash::RandomState>,
}

impl Agents {
    pub fn get_mut(&mut self, agent: &CompactString) -> &mut AgentWindow {
        self.by_agent.entry(agent.clone()).or_default()
    }

    /// Drops windows older than `w - window`, and agents with nothing left to
    /// remember. An agent that was alerted is kept for `alerted_memory` after its
    /// last alert, so a later alert still gets a fresh id and the suppression holds.
    pub fn expire(&mut self, w: DateTime<Utc>, window: Duration, alerted_memory: Duration) {
        self.by_agent.retain(|_, a| {
            a.evict_before(w - window);
            !a.submissions.is_empty() || a.last_alert.is_some_and(|t| t + alerted_memory >= w)
        });
    }

    pub fn len(&self) -> usize {
        self.by_agent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_agent.is_empty()
    }

    /// Submissions held across all agents: for tests of bounded memory.
    pub fn held(&self) -> usize {
        self.by_agent.values().map(|a| a.submissions.len()).sum()
    }
}
