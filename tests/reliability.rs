//! Crash and stop behaviour of the embedded pipeline: `kill -9` at random points
//! followed by a resume from the checkpoint gives exactly the output of an
//! uninterrupted run; SIGTERM drains, checkpoints and exits 0.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rand::{Rng, SeedableRng};

/// The demo pipeline, smaller and paced so that a run lasts about two seconds.
fn paced_config(dir: &Path) -> PathBuf {
    let reference = repo().join("pipelines/reference");
    let text = std::fs::read_to_string(repo().join("pipelines/demo.toml"))
        .expect("demo")
        .replace("transactions = 20000", "transactions = 6000")
        .replace("rate = 2000", "rate = 15000")
        .replace("reference/", &format!("{}/", reference.display()))
        .replace("out/demo/", &format!("{}/", dir.display()))
        .replace("listen = \"127.0.0.1:9464\"", "");
    let path = dir.join("paced.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// Checkpoints every 200 ms into `ckpt`, if given, and info-level logs: a
/// resumed run logs "resuming … at line N" at once.
fn checkpointing(mut cmd: Command, ckpt: Option<&Path>) -> Command {
    cmd.env("PANTAU_LOG", "info");
    if let Some(dir) = ckpt {
        cmd.arg("--checkpoint-dir")
            .arg(dir)
            .args(["--checkpoint-interval", "200ms"]);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn run_cmd(config: &Path, ckpt: Option<&Path>) -> Command {
    let mut cmd = pantau();
    cmd.args(["run", "--quiet", "--config"]).arg(config);
    checkpointing(cmd, ckpt)
}

/// A replay of `input` into `out`, checkpointing into `ckpt` if given.
fn replay_cmd(input: &Path, out: &Path, ckpt: Option<&Path>) -> Command {
    checkpointing(replay_command(input, out), ckpt)
}

/// The alert file's bytes, and the rejected records without their wall-clock
/// `rejected_at`, which differs between any two runs.
fn outputs(dir: &Path) -> (Vec<u8>, Vec<serde_json::Value>) {
    let rejected = read_lines(&dir.join("rejected.ndjson"))
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().expect("object").remove("rejected_at");
            r
        })
        .collect();
    (
        std::fs::read(dir.join("alerts.ndjson")).expect("alerts"),
        rejected,
    )
}

fn wait_for_checkpoint(dir: &Path) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let any = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
            })
            .unwrap_or(false);
        if any {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no checkpoint appeared in {}", dir.display());
}

#[test]
fn kill_9_at_random_points_then_resume_gives_the_uninterrupted_output() {
    let work = tempfile::tempdir().expect("tempdir");
    simulate_days(4, 8000, 56, work.path());
    let input = work.path().join("events.ndjson");
    let reference = work.path().join("reference");
    std::fs::create_dir_all(&reference).expect("dir");
    run_ok(&mut replay_cmd(&input, &reference, None));
    let (alerts, rejected) = outputs(&reference);
    assert!(alerts.len() > 100_000, "the workload raises alerts");
    assert!(!rejected.is_empty());

    let out = work.path().join("chaos");
    std::fs::create_dir_all(&out).expect("dir");
    let ckpt = work.path().join("checkpoints");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let (mut killed, mut resumed) = (0, 0);
    // A resumed run with little left may finish before its kill, and the run
    // after a finished one starts over: go on until five runs were killed.
    for _ in 0..15 {
        if killed >= 5 {
            break;
        }
        let mut child = replay_cmd(&input, &out, Some(&ckpt)).spawn().expect("run");
        std::thread::sleep(Duration::from_millis(rng.random_range(200..2000)));
        if child.try_wait().expect("status").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let run = child.wait_with_output().expect("wait");
        resumed += usize::from(String::from_utf8_lossy(&run.stderr).contains("resuming"));
    }
    assert!(
        killed >= 5,
        "at least five runs were killed mid-way ({killed})"
    );
    let done = replay_cmd(&input, &out, Some(&ckpt))
        .output()
        .expect("final run");
    let log = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{log}");
    resumed += usize::from(log.contains("resuming"));
    assert!(resumed >= 2, "runs resumed from checkpoints ({resumed})");
    let (a, r) = outputs(&out);
    assert!(a == alerts, "alerts differ from the uninterrupted run");
    assert_eq!(
        r, rejected,
        "rejected records differ from the uninterrupted run"
    );
}

#[test]
fn sigterm_checkpoints_exits_zero_and_the_next_run_finishes_the_job() {
    let reference_dir = tempfile::tempdir().expect("tempdir");
    let config = paced_config(reference_dir.path());
    run_ok(&mut run_cmd(&config, None));
    let (alerts, rejected) = outputs(reference_dir.path());

    let dir = tempfile::tempdir().expect("tempdir");
    let config = paced_config(dir.path());
    let ckpt = dir.path().join("checkpoints");
    let child = run_cmd(&config, Some(&ckpt)).spawn().expect("run");
    wait_for_checkpoint(&ckpt);
    let t = Instant::now();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit 0 on SIGTERM: {}", out.status);
    assert!(t.elapsed() < Duration::from_secs(10), "stopped promptly");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopped by a signal"), "{err}");
    let out = run_cmd(&config, Some(&ckpt)).output().expect("resume");
    assert!(out.status.success());
    assert_eq!(outputs(dir.path()), (alerts, rejected));
    // Once complete, the next run starts over and writes the same again.
    let out = run_cmd(&config, Some(&ckpt)).output().expect("again");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("resumed"));
    assert!(outputs(dir.path()).0 == outputs(reference_dir.path()).0);
}

#[test]
fn checkpoints_refuse_stdin_and_a_different_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ckpt = dir.path().join("checkpoints");
    let out = pantau()
        .args([
            "run",
            "--quiet",
            "--config",
            "pipelines/replay.toml",
            "--input",
            "-",
        ])
        .arg("--checkpoint-dir")
        .arg(&ckpt)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input"));
    // A checkpoint of one file is not resumed over another.
    simulate_days(3, 300, 14, dir.path());
    let events = dir.path().join("events.ndjson");
    let copy = dir.path().join("other.ndjson");
    std::fs::copy(&events, &copy).expect("copy");
    let config = paced_config(dir.path());
    let mut child = run_cmd(&config, Some(&ckpt)).spawn().expect("run");
    wait_for_checkpoint(&ckpt);
    child.kill().expect("kill");
    let _ = child.wait();
    let out = pantau()
        .args([
            "run",
            "--quiet",
            "--config",
            "pipelines/replay.toml",
            "--input",
        ])
        .arg(&copy)
        .arg("--checkpoint-dir")
        .arg(&ckpt)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("remove the checkpoint folder"), "{e}");
}
