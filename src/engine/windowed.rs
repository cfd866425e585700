//! The cross-transaction typologies inside the engine: duration baselines
//! (`speed_money`), agent windows (`broker_activity`) and weekly officer windows
//! (`officer_outlier`). They share the engine's order, watermark and timers.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use prometheus::Gauge;

use super::{Engine, EngineSettings, Pending, Sequenced, TimerKind, Timers, to_duration};
use crate::decode::{Event, EventBody};
use crate::metrics::{Children, Metrics};
use crate::reference::OfficeContext;
use crate::rules::{self, Finding, Typology};
use crate::state::{AgentSubmission, Baselines, GroupKey, OfficerWindows, TxnState};

/// How long an agent that was alerted is remembered after its last alert, so a
/// later alert after the suppression period still gets a fresh id.
const ALERTED_AGENT_MEMORY_DAYS: i64 = 365;

impl Engine {
    /// A `submitted` event naming an agent: the agent's sliding window.
    pub(super) fn windowed_agent(&mut self, event: &Event, seq: u64, arrived: Option<Instant>) {
        let EventBody::Submitted(s) = &event.body else {
            return;
        };
        let Some(agent) = &s.agent_ref else {
            return;
        };
        if !self.settings.active(Typology::BrokerActivity) {
            return;
        }
        let p = &self.settings.params;
        let window = to_duration(p.broker_activity.broker_window);
        let submission = AgentSubmission {
            at: event.occurred_at,
            applicant_ref: s.applicant_ref.clone(),
            transaction_id: event.transaction_id.clone(),
            office_id: event.office_id.clone(),
            service_code: event.service_code.clone(),
            event_id: event.event_id.clone(),
        };
        let state = self.agents.get_mut(agent);
        let Some(hit) = state.observe(
            submission,
            window,
            p.broker_activity.broker_min_applicants as usize,
            to_duration(p.broker_activity.broker_suppress),
        ) else {
            return;
        };
        let days = window.num_seconds() as f64 / 86_400.0;
        let finding = rules::broker_activity::broker_activity(
            agent,
            &hit,
            state.alerts,
            p.broker_activity.broker_min_applicants,
            days,
        );
        self.out.push(Sequenced {
            seq,
            rank: 0,
            arrived,
            alert: Pending::Finding(Box::new(finding)),
        });
    }

    /// The watermark passed the end of a weekly officer window.
    pub(super) fn fire_officer_window(&mut self, key: GroupKey) {
        let Some(group) = self.officers.close(&key) else {
            return;
        };
        if !self.settings.active(Typology::OfficerOutlier) {
            return;
        }
        let findings = rules::officer_outlier::officer_outlier(
            &key.office_id,
            &key.service_code,
            &group,
            &self.settings.params.officer_outlier,
        );
        if findings.is_empty() {
            return;
        }
        let seq = self.next_seq();
        for f in findings {
            self.out.push(Sequenced {
                seq,
                rank: 0,
                arrived: None,
                alert: Pending::Finding(Box::new(f)),
            });
        }
    }

    /// Drops window state the watermark has left behind.
    pub(super) fn expire_windows(&mut self, w: DateTime<Utc>) {
        let p = &self.settings.params;
        let cutoff = w - to_duration(p.speed_money.baseline_window);
        self.baselines.expire_before(cutoff.timestamp());
        self.agents.expire(
            w,
            to_duration(p.broker_activity.broker_window),
            Duration::days(ALERTED_AGENT_MEMORY_DAYS)
                .max(to_duration(p.broker_activity.broker_suppress)),
        );
    }
}

/// The engine parts the transaction side of the windowed typologies touches.
pub(super) struct WindowParts<'a> {
    pub settings: &'a EngineSettings,
    pub metrics: &'a Metrics,
    pub baselines: &'a mut Baselines,
    pub officers: &'a mut OfficerWindows,
    pub timers: &'a mut Timers,
    pub baseline_gauges: &'a mut Children<Gauge>,
}

/// Called for an issued transaction at its completion or when it turns
/// irregular: feeds the baseline
/// and officer windows, and judges `speed_money`. Runs before the event's
/// findings are marked as fired, so `state.fired` still tells what was known.
pub(super) fn on_transaction(
    parts: WindowParts<'_>,
    state: &mut TxnState,
    event: &Event,
    office: OfficeContext<'_>,
    completes_now: bool,
    irregular_bits: u32,
    findings: &mut Vec<Finding>,
) {
    let WindowParts {
        settings,
        metrics,
        baselines,
        officers,
        timers,
        baseline_gauges,
    } = parts;
    let was_irregular = state.fired & Typology::IRREGULAR != 0;
    let irregular = irregular_bits & Typology::IRREGULAR != 0;
    let p = &settings.params;
    if completes_now {
        let completed_at = event.occurred_at.to_utc();
        let baseline = baselines.get_mut(&state.office_id, &state.service_code);
        let window_s = to_duration(p.speed_money.baseline_window).num_seconds();
        state.baseline = Some(baseline.snapshot(completed_at.timestamp(), window_s));
        if let Some(s) = &state.submitted {
            let duration = (completed_at - s.mark.at.to_utc()).num_seconds();
            if duration >= 0 {
                baseline.insert(completed_at.timestamp(), duration);
                let median = baseline.median_s();
                baseline_gauges
                    .get(&state.office_id, &state.service_code, || {
                        metrics
                            .baseline_median_seconds
                            .with_label_values(&[&state.office_id, &state.service_code])
                    })
                    .set(median);
            }
        }
        if settings.active(Typology::OfficerOutlier)
            && let Some(officer) = &state.completed_by
        {
            let (key, created) = officers.record_issued(
                &state.office_id,
                &state.service_code,
                officer,
                completed_at,
                office.zone,
            );
            if irregular {
                officers.record_irregular(&key, officer, &event.transaction_id, &event.event_id);
            }
            state.officer_week = Some(key.start);
            if created {
                let end = key.start + Duration::days(7);
                timers.schedule(end, TimerKind::OfficerWindow(key));
            }
        }
    } else if irregular
        && !was_irregular
        && let (Some(start), Some(officer), Some(closure)) =
            (state.officer_week, &state.completed_by, &state.closed)
    {
        let key = GroupKey {
            office_id: state.office_id.clone(),
            service_code: state.service_code.clone(),
            start,
        };
        officers.record_irregular(&key, officer, &event.transaction_id, &closure.mark.event_id);
    }
    let judge = irregular && (completes_now || !was_irregular);
    if judge
        && settings.active(Typology::SpeedMoney)
        && !state.has_fired(Typology::SpeedMoney.bit())
        && let Some(f) = rules::speed_money::speed_money(
            state,
            event.occurred_at,
            irregular_bits,
            p.speed_ratio(&state.service_code),
            p.min_baseline(&state.service_code),
            to_duration(p.speed_money.baseline_window).num_days(),
        )
    {
        findings.push(f);
    }
}

/// Whether this event is the transaction's closing completion.
pub(super) fn completes(event: &Event, state: &TxnState) -> bool {
    matches!(event.body, EventBody::Completed { .. })
        && state
            .closed
            .as_ref()
            .is_some_and(|c| c.mark.event_id == event.event_id)
}
