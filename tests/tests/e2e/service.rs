//! The node as a session service: `duet service install` writes a systemd user unit that
//! `systemd-analyze verify` accepts (or, where systemd is absent, one whose content runs
//! this binary on this home), installing again changes nothing, `status` reports it, and
//! `uninstall` removes it.

use duet_tests::{duet_binary, Device};
use std::path::Path;

fn service(device: &Device, env: &Path, args: &[&str]) -> serde_json::Value {
    let out = device
        .command()
        .env("HOME", env)
        .env("XDG_CONFIG_HOME", env.join("config"))
        .env("XDG_RUNTIME_DIR", env.join("run"))
        .arg("--json")
        .arg("service")
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn the_service_unit_is_written_verified_idempotent_reported_and_removed() {
    let ana = Device::new("Ana");
    let env = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(env.path().join("run")).expect("runtime dir");

    let installed = service(&ana, env.path(), &["install", "--no-start"]);
    assert_eq!(installed["installed"], true);
    assert_eq!(installed["changed"], true);
    let file = std::path::PathBuf::from(installed["file"].as_str().expect("a file"));
    assert!(
        file.starts_with(env.path().join("config/systemd/user")),
        "{file:?}"
    );
    let unit = std::fs::read_to_string(&file).expect("the unit");
    let exec = format!(
        "ExecStart={} --home {} serve",
        duet_binary().display(),
        ana.home.path().display()
    );
    assert!(unit.contains(&exec), "{unit}");
    assert!(unit.contains("Restart=on-failure"), "{unit}");
    assert!(unit.contains("WantedBy=default.target"), "{unit}");

    let analyze = std::process::Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&file)
        .env("XDG_RUNTIME_DIR", env.path().join("run"))
        .env("XDG_CONFIG_HOME", env.path().join("config"))
        .output();
    match analyze {
        Ok(out) => assert!(
            out.status.success(),
            "systemd-analyze verify refused the unit: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        // No systemd on this machine: the content checks above stand alone.
        Err(e) => eprintln!("systemd-analyze is not here ({e}); the unit's content was checked"),
    }

    let again = service(&ana, env.path(), &["install", "--no-start"]);
    assert_eq!(again["changed"], false, "installing twice changes nothing");
    let status = service(&ana, env.path(), &["status"]);
    assert_eq!(status["installed"], true);
    assert_eq!(
        status["note"],
        serde_json::Value::Null,
        "it names this binary and home"
    );

    let removed = service(&ana, env.path(), &["uninstall"]);
    assert_eq!(removed["changed"], true);
    assert!(!file.exists());
    let none = service(&ana, env.path(), &["uninstall"]);
    assert_eq!(none["changed"], false);
    assert_eq!(service(&ana, env.path(), &["status"])["installed"], false);
}
