pub(crate) fn run(cmd: &mut super::Cmd, r: &mut super::Reply) -> super::Step {
    r.line(super::elems::BAD_FORMAT);
    cmd.done()
}
