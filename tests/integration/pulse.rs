//! A private PulseAudio per test (scripts/pulse-server.sh): null sinks stand in for the windows'
//! microphones; paplay speaks into them, pactl unplugs and replugs them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::root;

/// A running private audio server; stopped (by pid) and removed on drop.
pub struct Pulse {
    pub dir: PathBuf,
    /// The variables a client process needs (PULSE_SERVER, ALSA_CONFIG_PATH, …).
    pub env: Vec<(String, String)>,
}

/// A paplay process speaking a file into a sink.
pub struct Player(Child);

impl Player {
    /// Waits until the whole file has been played.
    pub fn wait(mut self) {
        let status = self.0.wait().unwrap();
        assert!(status.success(), "paplay failed: {status:?}");
    }
}

impl Pulse {
    /// Starts a server with sinks win01..winNN (and `multi`, 2 channels, if asked). Fails the test
    /// with what to install when it cannot start.
    pub fn start(windows: usize, multi: bool) -> Pulse {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "courtesy-pulse-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = Command::new(root().join("scripts/pulse-server.sh"));
        cmd.arg("start").arg(windows.to_string());
        if multi {
            cmd.arg("--multi");
        }
        let out = cmd
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/pulse-server.sh: {e}"));
        assert!(
            out.status.success(),
            "the test audio server did not start — run `scripts/setup.sh --test` (installs pulseaudio, \
             pulseaudio-utils, libasound2-plugins, alsa-utils)\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>();
        assert!(
            env.iter().any(|(k, _)| k == "ALSA_CONFIG_PATH"),
            "pulse-server.sh printed no ALSA_CONFIG_PATH: {env:?}"
        );
        Pulse { dir, env }
    }

    /// A command that talks to this server.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Starts playing `file` into `sink` (in real time).
    pub fn play(&self, sink: &str, file: &Path) -> Player {
        Player(
            self.command("paplay")
                .arg("-d")
                .arg(sink)
                .arg(file)
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run paplay: {e}")),
        )
    }

    /// Runs pactl with `args`; returns its stdout.
    pub fn pactl(&self, args: &[&str]) -> String {
        let out = self.command("pactl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "pactl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Unplugs a window's "microphone": unloads its null sink (and with it the monitor source).
    pub fn unload_sink(&self, sink: &str) {
        let modules = self.pactl(&["list", "short", "modules"]);
        let id = modules
            .lines()
            .find(|l| l.contains("module-null-sink") && l.contains(&format!("sink_name={sink} ")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no null sink {sink} in:\n{modules}"))
            .to_string();
        self.pactl(&["unload-module", &id]);
    }

    /// Plugs it back in, as pulse-server.sh made it.
    pub fn load_sink(&self, sink: &str) {
        self.pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={sink}"),
            "rate=48000",
            "channels=1",
        ]);
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/pulse-server.sh"))
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .status();
    }
}
