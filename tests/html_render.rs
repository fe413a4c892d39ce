//! The HTML heatmap in a real browser: `lstm-lrp explain --html` on the shipped sentiment model,
//! rendered by headless Chromium (Debian's `chromium`). The screenshot must not be blank and
//! must show red (supporting) words; the rendered DOM must hold the words.
//!
//! A browser is optional on a developer's machine: without one the test prints a line saying it
//! was skipped and passes. Where `LSTM_LRP_REQUIRE_BROWSER=1` (as `.ci/run` sets, after
//! installing chromium) a missing browser is a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that makes a missing browser a failure.
const REQUIRE: &str = "LSTM_LRP_REQUIRE_BROWSER";

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

/// What to do without a browser, given the value of [`REQUIRE`]: `Ok(line)` to print and skip,
/// `Err(message)` to fail.
fn without_browser(require: Option<&str>) -> Result<String, String> {
    let why = "no headless browser (chromium, chromium-browser or google-chrome) on PATH; \
               install one with `sudo apt-get install -y chromium`";
    if require == Some("1") {
        return Err(format!("{why} ({REQUIRE}=1 requires it)"));
    }
    Ok(format!(
        "html_render: SKIPPED the browser test: {why}; set {REQUIRE}=1 to make this a failure"
    ))
}

/// The browser, or `None` after saying the test is skipped (a panic where one is required).
fn browser_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let require = std::env::var(REQUIRE).ok();
        match without_browser(require.as_deref()) {
            // Straight to the process's stderr: the test harness captures eprintln! of passing
            // tests, and this line must be seen.
            Ok(line) => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            Err(message) => panic!("{message}"),
        }
    }
    found
}

#[test]
fn a_missing_browser_skips_with_a_message_unless_required() {
    let line = without_browser(None).expect("skipped");
    assert!(line.contains("SKIPPED") && line.contains("apt-get install -y chromium"));
    assert!(without_browser(Some("0")).is_ok());
    let err = without_browser(Some("1")).expect_err("required");
    assert!(err.contains(REQUIRE), "{err}");
}

fn browser(chromium: &Path, args: &[&str], page: &Path) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn the_heatmap_renders_with_coloured_words() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("lstm-lrp-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sentences = dir.join("sentences.jsonl");
    std::fs::write(
        &sentences,
        "\"the plot was gratefuller\"\n[\"a\", \"tragedies\", \"week\"]\n",
    )
    .unwrap();
    let page = dir.join("heatmap.html");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .current_dir(root)
        .args([
            "explain",
            "--model",
            "examples/sentiment/model.safetensors",
            "--vocab",
            "examples/sentiment/vocab.txt",
            "--input",
        ])
        .arg(&sentences)
        .arg("--overwrite")
        .arg("--html")
        .arg(&page)
        .output()
        .expect("run lstm-lrp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let dom = browser(&chromium, &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for word in ["gratefuller", "tragedies", "plot", "week"] {
        assert!(dom.contains(word), "the rendered page lacks `{word}`");
    }

    let shot = dir.join("heatmap.png");
    let o = browser(
        &chromium,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,600",
        ],
        &page,
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "colour screenshot expected, got {:?}",
        info.color_type
    );
    let pixels = buf[..info.buffer_size()].chunks(channels);
    let (mut white, mut red, mut dark, mut total) = (0usize, 0usize, 0usize, 0usize);
    for p in pixels {
        total += 1;
        let (r, g, b) = (p[0], p[1], p[2]);
        if r > 245 && g > 245 && b > 245 {
            white += 1;
        }
        if r > 200 && g < 80 && b < 80 {
            red += 1;
        }
        if r < 80 && g < 80 && b < 80 {
            dark += 1;
        }
    }
    assert!(white < total, "the screenshot is blank");
    assert!(dark > 500, "no text rendered ({dark} dark pixels)");
    // The most relevant word of each row is drawn on full red.
    assert!(
        red > 500,
        "no red word backgrounds ({red} red pixels of {total})"
    );
}
