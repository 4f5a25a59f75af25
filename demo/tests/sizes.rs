//! The README's per-connection size table is the one `cargo run --example sizes` prints for
//! the code as it is (so a change that grows a connection's state cannot leave it stale).

#[test]
fn the_readme_size_table_is_current() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the workspace README");
    let table = slackwater_demo::sizes::table();
    assert!(
        readme.contains(&table),
        "README.md's size table differs from `cargo run --example sizes`:\n{table}"
    );
}
