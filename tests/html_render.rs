//! The HTML heatmap in a real browser: `lstm-lrp explain --html` on the shipped sentiment model,
//! rendered by headless Chromium (Debian's `chromium`, installed by `.ci/run`). The screenshot
//! must not be blank and must show red (supporting) words; the rendered DOM must hold the words.
//! Without chromium this test fails: install it with `apt-get install chromium`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "no headless browser found: this test renders the HTML heatmap in Chromium; \
         install it with `sudo apt-get install -y chromium` (as .ci/run does)"
    );
}

fn browser(args: &[&str], page: &Path) -> std::process::Output {
    Command::new(chromium())
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
        .arg("--html")
        .arg(&page)
        .output()
        .expect("run lstm-lrp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let dom = browser(&["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for word in ["gratefuller", "tragedies", "plot", "week"] {
        assert!(dom.contains(word), "the rendered page lacks `{word}`");
    }

    let shot = dir.join("heatmap.png");
    let o = browser(
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
