//! What this machine is — CPU, memory, kernel, disk — recorded next to every measurement,
//! so two tests' environments can be compared. From `/proc` (procfs) and statvfs.

use std::path::Path;

use procfs::{CpuInfo, Current, Meminfo};
use protocol::actions::MachineInfo;

/// This machine, with the disk measured where `work_dir` is. Whatever cannot be read is
/// left empty rather than failing the measurement it goes with.
pub fn describe(work_dir: &Path) -> MachineInfo {
    let cpu = CpuInfo::current().ok();
    let disk_gb = nix::sys::statvfs::statvfs(work_dir)
        .map(|s| s.blocks() as f64 * s.fragment_size() as f64 / 1e9)
        .unwrap_or(0.0);
    MachineInfo {
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        cpu_model: cpu
            .as_ref()
            .and_then(|c| c.model_name(0).map(str::to_string))
            .unwrap_or_default(),
        cores: cpu.as_ref().map_or(0, |c| c.num_cores() as u32),
        memory_mb: Meminfo::current().map_or(0, |m| m.mem_total / (1024 * 1024)),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_default(),
        disk_gb: (disk_gb * 10.0).round() / 10.0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_is_described() {
        let m = super::describe(std::path::Path::new("/"));
        assert!(m.cores >= 1, "{m:?}");
        assert!(m.memory_mb > 100, "{m:?}");
        assert!(!m.kernel.is_empty() && !m.cpu_model.is_empty(), "{m:?}");
        assert!(m.disk_gb > 0.0, "{m:?}");
    }
}
