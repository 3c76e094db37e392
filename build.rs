// `sqlx::migrate!` embeds the migrations at build time; tell cargo to rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
