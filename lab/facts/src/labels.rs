//! The Docker label keys of the lab's resources. Teardown and `lab gc` find a lab's containers
//! and networks by `RUN` and nothing else; `OWNER` says which process may still use them. Test
//! fixtures that start containers of their own carry both, so that `lab gc` sweeps them too.

/// The lab's run id; every container and network of a lab (and every test fixture) has it.
pub const RUN: &str = "io.arcus-lab.run";
/// The resource's role: `admin`, `host`, `network`, or an image kind.
pub const ROLE: &str = "io.arcus-lab.role";
/// The process that made the resource and which of its labs (`<pid>:<start time>:<n>`; a test
/// fixture's `<pid>:<start time>`), or `kept` on labs made before labs had markers.
pub const OWNER: &str = "io.arcus-lab.owner";
/// The command a lab was made under (`cargo xtask test`, the suite of `bench`), when it set
/// `ARCUS_LAB_SESSION` for its children: after an interrupt it removes the abandoned labs of its
/// session, and no other.
pub const SESSION: &str = "io.arcus-lab.session";
/// Which of the lab's four hosts a container is.
pub const HOST: &str = "io.arcus-lab.host";
/// The host's address, so that a lab can be found again from its containers.
pub const IP: &str = "io.arcus-lab.ip";
/// The kind of a lab image: `base`, `host`, `admin`.
pub const IMAGE: &str = "io.arcus-lab.image";

/// The lab's topology, on its containers and network (`hosts=3 zk=3 nodes-per-host=2 services=ruo91-cloud`).
pub const TOPOLOGY: &str = "io.arcus-lab.topology";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_lab_prefix() {
        for key in [RUN, ROLE, OWNER, SESSION, HOST, IP, IMAGE, TOPOLOGY] {
            assert!(key.starts_with("io.arcus-lab.") && !key.ends_with('.'), "{key}");
        }
    }
}
