//! The machine a run happens on (from /proc, /sys, /etc/os-release and git), and how it
//! differs from the profile's `[machine]`: a certification result only speaks for the
//! hardware it ran on, so every difference is printed and recorded in the report.

use crate::profile::MachineSpec;
use crate::results::Environment;
use std::process::Command;

/// Memory may differ from the profile by this fraction before it counts as a mismatch
/// (kernels reserve some, and "24 GiB" machines report 23.4).
pub const MEMORY_TOLERANCE: f64 = 0.10;

#[derive(Debug, Clone, Default)]
pub struct MachineInfo {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    /// Kinds of the block devices present ("nvme", "virtio", "ssd", "hdd").
    pub disk_kinds: Vec<String>,
}

pub fn detect() -> MachineInfo {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory_bytes = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| {
            v.split_whitespace()
                .next()
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| kib * 1024)
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    MachineInfo {
        cpu_model,
        cores,
        memory_bytes,
        kernel,
        os,
        disk_kinds: disk_kinds(),
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn disk_kinds() -> Vec<String> {
    let mut kinds = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return kinds;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if ["loop", "ram", "zram", "dm-", "md", "sr"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let kind = if name.starts_with("nvme") {
            "nvme"
        } else if name.starts_with("vd") {
            "virtio"
        } else if read(&format!("/sys/block/{name}/queue/rotational")).trim() == "1" {
            "hdd"
        } else {
            "ssd"
        };
        if !kinds.iter().any(|k| k == kind) {
            kinds.push(kind.to_string());
        }
    }
    kinds
}

/// The commit of the working tree (with "-dirty" when it has changes), or "unknown".
pub fn git_commit() -> String {
    let out = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match out(&["rev-parse", "HEAD"]) {
        Some(sha) if !sha.is_empty() => {
            let dirty = out(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        _ => "unknown".into(),
    }
}

/// Whether `commit` (a full or short sha) is HEAD or one of its ancestors, by
/// `git merge-base --is-ancestor`; false when git cannot tell (not a repository, unknown sha).
pub fn is_ancestor_of_head(commit: &str) -> bool {
    // Only a plain hex sha goes to git: never an option or a revision expression.
    if commit.is_empty() || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    Command::new("git")
        .args(["merge-base", "--is-ancestor", commit, "HEAD"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Differences between the detected machine and the profile's, one sentence each.
pub fn compare(spec: &MachineSpec, m: &MachineInfo) -> Vec<String> {
    let mut out = Vec::new();
    if spec.cores != m.cores {
        out.push(format!(
            "cores: profile {} but this machine has {}",
            spec.cores, m.cores
        ));
    }
    let have_gib = m.memory_bytes as f64 / (1u64 << 30) as f64;
    if spec.memory_gib > 0.0
        && ((have_gib - spec.memory_gib).abs() / spec.memory_gib) > MEMORY_TOLERANCE
    {
        out.push(format!(
            "memory: profile {:.1} GiB but this machine has {have_gib:.1} GiB",
            spec.memory_gib
        ));
    }
    let want = spec.disk.to_ascii_lowercase();
    if !want.is_empty() && !m.disk_kinds.is_empty() && !m.disk_kinds.contains(&want) {
        out.push(format!(
            "disk: profile {want:?} but this machine has {}",
            m.disk_kinds.join(", ")
        ));
    }
    out
}

/// The report's environment record.
pub fn environment(m: &MachineInfo, node_settings: String, mismatches: Vec<String>) -> Environment {
    Environment {
        cpu_model: m.cpu_model.clone(),
        cores: m.cores,
        memory_bytes: m.memory_bytes,
        kernel: m.kernel.clone(),
        os: m.os.clone(),
        git_commit: git_commit(),
        date_utc: date_utc(std::time::SystemTime::now()),
        node_settings,
        io_backends: Vec::new(),
        profile_mismatches: mismatches,
        page_cache_written_back_mib: None,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn date_utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MachineSpec {
        MachineSpec {
            cores: 2,
            memory_gib: 24.0,
            disk: "virtio".into(),
            network: "loopback".into(),
        }
    }

    fn machine(cores: usize, gib: f64, disk: &str) -> MachineInfo {
        MachineInfo {
            cores,
            memory_bytes: (gib * (1u64 << 30) as f64) as u64,
            disk_kinds: vec![disk.into()],
            ..Default::default()
        }
    }

    #[test]
    fn matching_machine_has_no_mismatch() {
        assert!(compare(&spec(), &machine(2, 23.4, "virtio")).is_empty());
    }

    #[test]
    fn each_difference_is_reported() {
        let m = compare(&spec(), &machine(16, 64.0, "nvme"));
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].starts_with("cores: profile 2 but this machine has 16"));
        assert!(m[1].starts_with("memory:"));
        assert!(m[2].starts_with("disk:"));
        let unchecked_disk = MachineSpec {
            disk: String::new(),
            ..spec()
        };
        assert!(compare(&unchecked_disk, &machine(2, 24.0, "nvme")).is_empty());
    }

    #[test]
    fn dates_are_iso_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(date_utc(t), "2026-11-18T11:06:40Z");
        assert_eq!(date_utc(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
