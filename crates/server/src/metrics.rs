//! Prometheus metrics at `/metrics` (text exposition format 0.0.4).
//!
//! - `bandmate_tasks{kind,status}`: tasks in the store by status (read at scrape time);
//! - `bandmate_queue_depth`: runnable tasks waiting for a worker;
//! - `bandmate_workers_busy`: workers of this process running a task;
//! - `bandmate_stage_duration_seconds{stage}`: histogram of fetch, text (decode, analyse,
//!   harmonise), first (variation 1's songs), stems (variation 1's stems, made after
//!   `FIRST_SUCCESS`), complete (variation 2 with its stems), wav;
//! - `bandmate_callbacks_total{stage,outcome}`: delivery attempts (`delivered`, `retry`,
//!   `failed`);
//! - `bandmate_submissions_total{code}`: answers of the submit endpoint by envelope code;
//! - `bandmate_tasks_finished_total{status}`: terminal transitions made by this process.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Histogram bucket bounds in seconds (rendering a song takes seconds to minutes).
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    stages: Mutex<BTreeMap<String, Histogram>>,
    callbacks: Mutex<BTreeMap<(String, String), u64>>,
    submissions: Mutex<BTreeMap<u16, u64>>,
    finished: Mutex<BTreeMap<String, u64>>,
    busy: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record how long a stage took.
    pub fn stage(&self, stage: &str, d: Duration) {
        let s = d.as_secs_f64();
        let mut m = lock(&self.stages);
        let h = m.entry(stage.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// Count a callback attempt.
    pub fn callback(&self, stage: &str, outcome: &str) {
        *lock(&self.callbacks)
            .entry((stage.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    /// Count a submission answer.
    pub fn submission(&self, code: u16) {
        *lock(&self.submissions).entry(code).or_default() += 1;
    }

    /// Count a terminal transition.
    pub fn finished(&self, status: &str) {
        *lock(&self.finished).entry(status.to_string()).or_default() += 1;
    }

    /// A worker started (+1) or stopped (-1) running a task.
    pub fn busy(&self, delta: i64) {
        self.busy.fetch_add(delta, Ordering::Relaxed);
    }

    /// Callback attempts so far with this outcome (all stages).
    pub fn callback_count(&self, outcome: &str) -> u64 {
        lock(&self.callbacks)
            .iter()
            .filter(|((_, o), _)| o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    /// The exposition text, with the store's gauges.
    pub fn render(&self, task_counts: &[(String, String, i64)], queue_depth: i64) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP bandmate_tasks Tasks in the store by kind and status."
        );
        let _ = writeln!(o, "# TYPE bandmate_tasks gauge");
        for (kind, status, n) in task_counts {
            let _ = writeln!(
                o,
                "bandmate_tasks{{kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP bandmate_queue_depth Runnable tasks waiting for a worker."
        );
        let _ = writeln!(o, "# TYPE bandmate_queue_depth gauge");
        let _ = writeln!(o, "bandmate_queue_depth {queue_depth}");
        let _ = writeln!(
            o,
            "# HELP bandmate_workers_busy Workers of this process running a task."
        );
        let _ = writeln!(o, "# TYPE bandmate_workers_busy gauge");
        let _ = writeln!(
            o,
            "bandmate_workers_busy {}",
            self.busy.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP bandmate_stage_duration_seconds Time spent per pipeline stage."
        );
        let _ = writeln!(o, "# TYPE bandmate_stage_duration_seconds histogram");
        for (stage, h) in lock(&self.stages).iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "bandmate_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                o,
                "bandmate_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "bandmate_stage_duration_seconds_sum{{stage=\"{stage}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "bandmate_stage_duration_seconds_count{{stage=\"{stage}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            o,
            "# HELP bandmate_callbacks_total Callback delivery attempts by outcome."
        );
        let _ = writeln!(o, "# TYPE bandmate_callbacks_total counter");
        for ((stage, outcome), n) in lock(&self.callbacks).iter() {
            let _ = writeln!(
                o,
                "bandmate_callbacks_total{{stage=\"{stage}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP bandmate_submissions_total Submit answers by envelope code."
        );
        let _ = writeln!(o, "# TYPE bandmate_submissions_total counter");
        for (code, n) in lock(&self.submissions).iter() {
            let _ = writeln!(o, "bandmate_submissions_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "# HELP bandmate_tasks_finished_total Terminal transitions made by this process."
        );
        let _ = writeln!(o, "# TYPE bandmate_tasks_finished_total counter");
        for (status, n) in lock(&self.finished).iter() {
            let _ = writeln!(
                o,
                "bandmate_tasks_finished_total{{status=\"{status}\"}} {n}"
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_cumulative_buckets() {
        let m = Metrics::new();
        m.stage("text", Duration::from_millis(300));
        m.stage("text", Duration::from_secs(3));
        m.callback("complete", "delivered");
        m.submission(200);
        let t = m.render(&[("generate".into(), "SUCCESS".into(), 3)], 2);
        assert!(t.contains("bandmate_tasks{kind=\"generate\",status=\"SUCCESS\"} 3"));
        assert!(t.contains("bandmate_queue_depth 2"));
        assert!(t.contains("bandmate_stage_duration_seconds_bucket{stage=\"text\",le=\"0.25\"} 0"));
        assert!(t.contains("bandmate_stage_duration_seconds_bucket{stage=\"text\",le=\"0.5\"} 1"));
        assert!(t.contains("bandmate_stage_duration_seconds_bucket{stage=\"text\",le=\"5\"} 2"));
        assert!(t.contains("bandmate_stage_duration_seconds_count{stage=\"text\"} 2"));
        assert!(t.contains("bandmate_callbacks_total{stage=\"complete\",outcome=\"delivered\"} 1"));
        assert_eq!(m.callback_count("delivered"), 1);
    }
}
