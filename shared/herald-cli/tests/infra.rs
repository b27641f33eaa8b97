//! `herald infra check` fails on a stale template, naming what differs and the command that
//! refreshes it; `herald infra generate` refreshes it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn herald(action: &str, template: &Path) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["infra", action, "--template"])
        .arg(template)
        .arg("--workspace")
        .arg(root())
        .output()
}

#[test]
fn a_stale_template_fails_the_check_naming_the_resource_and_the_command_that_refreshes_it() -> TestResult {
    // Given a copy of the template whose inventory rule was edited by hand, beside the catalog
    // it names (`Catalog: ../events`)
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("infra"))?;
    std::os::unix::fs::symlink(root().join("events"), dir.path().join("events"))?;
    let copy = dir.path().join("infra/template.yaml");
    let text = std::fs::read_to_string(root().join("infra/template.yaml"))?;
    let edited = text.replacen(
        "RuleName: !Sub ${AWS::StackName}-inventory\n",
        "RuleName: !Sub ${AWS::StackName}-inventory-by-hand\n",
        1,
    );
    assert_ne!(edited, text, "the template names the inventory rule");
    std::fs::write(&copy, &edited)?;

    // When it is checked
    let check = herald("check", &copy)?;

    // Then the check fails, naming the resource and `cargo herald infra generate`
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{stderr}");
    assert!(stderr.contains("Resources.InventoryFunction"), "{stderr}");
    assert!(stderr.contains("cargo herald infra generate"), "{stderr}");

    // And generating restores the checked-in text, which then passes the check
    let generate = herald("generate", &copy)?;
    assert!(
        generate.status.success(),
        "{}",
        String::from_utf8_lossy(&generate.stderr)
    );
    assert_eq!(std::fs::read_to_string(&copy)?, text);
    let again = herald("check", &copy)?;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    Ok(())
}
