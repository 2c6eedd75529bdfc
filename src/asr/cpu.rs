//! The CPU whisper.cpp was built for against the one it runs on: a clear error, not an illegal instruction.
//!
//! whisper-rs builds whisper.cpp from source for the machine it is built on (`GGML_NATIVE`): a
//! binary built on an AVX-512 server and copied to an AVX2 one dies on its first encoder pass
//! with SIGILL. [`check`] refuses to start instead, naming the instructions and the fix.
//! `scripts/build-portable.sh` builds for any AVX2 machine (x86-64-v3); the encoder's large
//! matrix products then still use the best kernels of the CPU they run on, because Debian's
//! OpenBLAS chooses them at run time ([`describe`] says which).

/// Whether this CPU has one instruction set.
#[cfg(target_arch = "x86_64")]
type Detect = fn() -> bool;

/// whisper.cpp's features as it reports them, and how Rust detects each on this CPU.
#[cfg(target_arch = "x86_64")]
const FEATURES: &[(&str, Detect)] = &[
    ("AVX", || std::arch::is_x86_feature_detected!("avx")),
    ("AVX2", || std::arch::is_x86_feature_detected!("avx2")),
    ("FMA", || std::arch::is_x86_feature_detected!("fma")),
    ("F16C", || std::arch::is_x86_feature_detected!("f16c")),
    ("BMI2", || std::arch::is_x86_feature_detected!("bmi2")),
    ("AVX512", || std::arch::is_x86_feature_detected!("avx512f")),
    ("AVX512_VBMI", || {
        std::arch::is_x86_feature_detected!("avx512vbmi")
    }),
    ("AVX512_VNNI", || {
        std::arch::is_x86_feature_detected!("avx512vnni")
    }),
    ("AVX512_BF16", || {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }),
    ("AVX_VNNI", || {
        std::arch::is_x86_feature_detected!("avxvnni")
    }),
    // Rust's detection of AMX is unstable; Linux lists it among the CPU's flags.
    ("AMX_INT8", || cpuinfo_flag("amx_int8")),
];

/// Whether Linux lists `flag` among this CPU's flags (`/proc/cpuinfo`).
#[cfg(target_arch = "x86_64")]
fn cpuinfo_flag(flag: &str) -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|l| l.split_whitespace().any(|f| f == flag))
    })
}

/// The instruction sets whisper.cpp was compiled to use, from its system info line
/// (`CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | … |`).
pub fn built_for(info: &str) -> Vec<&str> {
    let cpu = info.split_once("CPU :").map_or("", |(_, rest)| rest);
    cpu.split('|')
        .filter_map(|f| f.split_once('='))
        .map(|(name, value)| (name.trim(), value.trim()))
        // The next backend's name follows the CPU's last feature (`… | BLAS : …`).
        .take_while(|(name, _)| !name.contains(':'))
        .filter(|(_, value)| *value == "1")
        .map(|(name, _)| name)
        .collect()
}

/// Of `built`, the instruction sets this CPU lacks.
#[cfg(target_arch = "x86_64")]
fn lacking<'a>(built: &[&'a str]) -> Vec<&'a str> {
    built
        .iter()
        .copied()
        .filter(|b| FEATURES.iter().any(|(name, has)| name == b && !has()))
        .collect()
}

#[cfg(not(target_arch = "x86_64"))]
fn lacking<'a>(_built: &[&'a str]) -> Vec<&'a str> {
    Vec::new()
}

/// Of whisper.cpp's instruction sets, those this CPU has and the build does not use.
#[cfg(target_arch = "x86_64")]
fn unused(built: &[&str]) -> Vec<&'static str> {
    FEATURES
        .iter()
        .filter(|(name, has)| has() && !built.contains(name))
        .map(|(name, _)| *name)
        .collect()
}

#[cfg(not(target_arch = "x86_64"))]
fn unused(_built: &[&str]) -> Vec<&'static str> {
    Vec::new()
}

/// Fails when whisper.cpp was built for instructions this CPU lacks.
pub fn check() -> Result<(), String> {
    let info = whisper_rs::print_system_info();
    match lacking(&built_for(info)).as_slice() {
        [] => Ok(()),
        missing => Err(format!(
            "this courtesy was built on a CPU with {} and this CPU lacks it — build it on this machine (scripts/setup.sh), or build one for any AVX2 server with scripts/build-portable.sh",
            missing.join(", ")
        )),
    }
}

/// One line for the logs: what whisper.cpp was built for, what of this CPU it leaves unused,
/// and the OpenBLAS kernels chosen at run time.
pub fn describe() -> String {
    let built = built_for(whisper_rs::print_system_info());
    let mut line = format!("whisper.cpp built for {}", simd(&built));
    let idle = unused(&built);
    if !idle.is_empty() {
        line += &format!(
            " (this CPU also has {}: a build on this machine would use it)",
            idle.join(", ")
        );
    }
    if let Some(core) = blas_core() {
        line += &format!("; OpenBLAS kernels: {core} (chosen at run time)");
    }
    line
}

fn simd(built: &[&str]) -> String {
    let shown: Vec<&str> = built
        .iter()
        .copied()
        .filter(|f| !matches!(*f, "SSE3" | "SSSE3" | "OPENMP" | "REPACK" | "LLAMAFILE"))
        .collect();
    if shown.is_empty() {
        "no SIMD extensions".into()
    } else {
        shown.join(" ")
    }
}

/// The core OpenBLAS chose its kernels for (its DYNAMIC_ARCH build picks them at run time;
/// `OPENBLAS_CORETYPE` overrides).
#[cfg(feature = "openblas")]
fn blas_core() -> Option<String> {
    extern "C" {
        fn openblas_get_corename() -> *const std::ffi::c_char;
    }
    // SAFETY: OpenBLAS returns a pointer to a static, NUL-terminated name.
    let name = unsafe { openblas_get_corename() };
    (!name.is_null()).then(|| {
        unsafe { std::ffi::CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    })
}

#[cfg(not(feature = "openblas"))]
fn blas_core() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "WHISPER : COREML = 0 | OPENVINO = 0 | CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VNNI = 0 | OPENMP = 0 | REPACK = 1 | BLAS : ACCELERATE = 0 | ";

    #[test]
    fn the_cpu_features_are_read_from_the_system_info_line() {
        assert_eq!(
            built_for(INFO),
            ["SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2", "AVX512", "REPACK"]
        );
        assert_eq!(simd(&built_for(INFO)), "AVX AVX2 F16C FMA BMI2 AVX512");
        assert!(built_for("WHISPER : COREML = 0 |").is_empty());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn an_instruction_set_this_cpu_lacks_is_named() {
        // This machine runs the tests, so what it was built for it has.
        assert!(check().is_ok(), "{:?}", check());
        let has_avx512 = std::arch::is_x86_feature_detected!("avx512f");
        assert_eq!(lacking(&["AVX2", "AVX512"]).is_empty(), has_avx512);
        assert!(lacking(&["SSE3", "REPACK"]).is_empty());
        assert!(describe().starts_with("whisper.cpp built for "));
    }
}
