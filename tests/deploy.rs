//! The deployment files refer to configuration pantau accepts.

mod common;

use common::*;

#[test]
fn kubernetes_configmap_and_kafka_pipelines_load() {
    let manifest =
        std::fs::read_to_string(repo().join("deploy/k8s/pantau.yaml")).expect("manifest");
    // The ConfigMap's pipeline.toml: the indented block after its key.
    let block: String = manifest
        .split("pipeline.toml: |\n")
        .nth(1)
        .expect("pipeline.toml in the ConfigMap")
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let reference = repo().join("pipelines");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k8s.toml");
    std::fs::write(
        &path,
        block.replace("/etc/pantau/pipelines", &reference.display().to_string()),
    )
    .expect("write");
    let out = run_ok(pantau().args(["rules", "check", "--config"]).arg(&path));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reference data loaded"));
    for p in ["pipelines/kafka.toml", "pipelines/compose.toml"] {
        run_ok(pantau().args(["rules", "check", "--config", p]));
    }
    // The Deployment's probes and port match the endpoint pantau serves.
    for needle in [
        "path: /healthz",
        "path: /readyz",
        "containerPort: 9464",
        "listen = \"0.0.0.0:9464\"",
    ] {
        assert!(manifest.contains(needle), "{needle}");
    }
}

#[test]
fn compose_file_is_valid_and_mounts_files_that_exist() {
    let status = std::process::Command::new("bash")
        .arg(repo().join("scripts/validate-compose.sh"))
        .status()
        .expect("validator runs");
    assert!(
        status.success(),
        "docker-compose config rejected docker-compose.yml"
    );
    let compose = std::fs::read_to_string(repo().join("docker-compose.yml")).expect("compose");
    let mut mounts = 0;
    for line in compose.lines() {
        if let Some(src) = line.trim().strip_prefix("- ./") {
            let path = src.split(':').next().expect("source");
            assert!(
                repo().join(path).exists(),
                "compose mounts ./{path}, which is missing"
            );
            mounts += 1;
        }
    }
    assert!(
        mounts >= 5,
        "prometheus, rules, alertmanager, grafana and webhook mounts"
    );
    for service in [
        "kafka:",
        "topics:",
        "simulator:",
        "pantau:",
        "prometheus:",
        "alertmanager:",
        "grafana:",
        "webhook-receiver:",
    ] {
        assert!(
            compose.contains(&format!("\n  {service}")),
            "service {service}"
        );
    }
}
