//! `timeline.html`: one self-contained page (inline SVG and CSS, no script, no fetch) drawn from a
//! [`Report`]: operations per second and failures over time, one lane per node with its ok, failed
//! and timed-out operations per time bucket, markers for faults, heals, znode removals and ring
//! updates, and a legend. Lanes carry `class="lane" data-node="<ip:port>"`, markers
//! `class="marker" data-kind="fault|heal|znode-removed|znode-added|ring-update"`, so a test can
//! count them.

use crate::Report;

/// The page for `report`.
pub fn render(report: &Report) -> String {
    let _ = report;
    todo!()
}
