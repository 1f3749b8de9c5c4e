//! Board profiles: every shipped profile loads and validates; a bad profile
//! is an error naming its file and line; the energy model's numbers; the
//! LEDs a profile opens, and the errors when they cannot be; the power and
//! heat the board reports, through a fake sysfs tree.

use crate::common;

use std::path::{Path, PathBuf};

use goodwill::runtime::board::{
    Board, BoardError, Health, LedSource, Sensors, GET_THROTTLED, GPIO_LINE_LIMIT,
    SHIPPED as BUILT_IN, SYSFS, THERMAL_ZONE0,
};
use goodwill::runtime::led::{pattern, ApplianceState, LedError};

const SHIPPED: [&str; 5] = ["pi5", "pi4", "pi3", "zero2w", "generic"];

fn repo_boards() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("board")]
}

fn pi4_text() -> String {
    std::fs::read_to_string(repo_boards()[0].join("pi4.toml")).unwrap()
}

/// The 1-based line of the first line of `text` that starts with `prefix`.
fn line_starting(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
        + 1
}

#[test]
fn every_shipped_profile_loads_and_validates() {
    let dirs = repo_boards();
    assert_eq!(
        Board::available(&dirs),
        vec!["generic", "pi3", "pi4", "pi5", "zero2w"]
    );
    for name in SHIPPED {
        let b = Board::load(name, &dirs).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(b.name, name, "the name is the file's stem");
        assert!(b.source().ends_with(&format!("board/{name}.toml")));
        assert!(!b.model.is_empty());
        assert_eq!(b.cores, 4, "{name}: every shipped board has four cores");
        assert_eq!(b.leds, LedSource::Gpio);
        assert_eq!(
            b.gpio.lines,
            [17, 27, 22],
            "{name}: the wiring of board/WIRING.md"
        );
        assert_eq!(b.gpio.chip, Path::new("/dev/gpiochip0"));
        assert!(b.idle_watts > 0.0 && b.idle_watts <= b.load_watts);
        assert!(b.load_watts < 15.0, "{name}: a Pi draws less than 15 W");
        assert!(
            b.onboard_act.iter().any(|n| n == "ACT"),
            "{name}: current kernels call it ACT"
        );
    }
}

#[test]
fn profiles_name_their_chip_by_label_where_it_moves() {
    let dirs = repo_boards();
    let label = |n: &str| Board::load(n, &dirs).unwrap().gpio.label;
    assert_eq!(label("pi5").as_deref(), Some("pinctrl-rp1"));
    assert_eq!(label("pi4").as_deref(), Some("pinctrl-bcm2711"));
    assert_eq!(label("pi3").as_deref(), Some("pinctrl-bcm2835"));
    assert_eq!(label("zero2w").as_deref(), Some("pinctrl-bcm2835"));
    assert_eq!(label("generic"), None);
    assert!(Board::load("zero2w", &dirs).unwrap().onboard_pwr.is_empty());
}

#[test]
fn the_none_board_has_no_leds_and_generic_watts() {
    let none = Board::load("none", &[]).unwrap();
    assert_eq!(none, Board::none());
    assert_eq!(none.leds, LedSource::None);
    let generic = Board::load("generic", &repo_boards()).unwrap();
    assert_eq!(
        (none.idle_watts, none.load_watts, none.cores),
        (generic.idle_watts, generic.load_watts, generic.cores)
    );
    // Its LEDs are log lines: they open anywhere and take any pattern.
    let mut leds = none.open_leds().unwrap();
    leds.apply(pattern(&ApplianceState::default(), 0)).unwrap();
}

#[test]
fn a_profile_loads_by_path_and_earlier_directories_win() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mine.toml");
    std::fs::write(
        &path,
        pi4_text().replace("name = \"pi4\"", "name = \"mine\""),
    )
    .unwrap();
    let b = Board::load(path.to_str().unwrap(), &[]).unwrap();
    assert_eq!(b.name, "mine");

    // An administrator's pi4.toml in an earlier directory overrides the shipped one.
    let admin = tmp.path().join("etc");
    std::fs::create_dir(&admin).unwrap();
    std::fs::write(
        admin.join("pi4.toml"),
        pi4_text().replace("idle_watts = 1.6", "idle_watts = 2.0"),
    )
    .unwrap();
    let mut dirs = vec![admin];
    dirs.extend(repo_boards());
    assert_eq!(Board::load("pi4", &dirs).unwrap().idle_watts, 2.0);
}

#[test]
fn an_unknown_name_lists_what_there_is() {
    let e = Board::load("pi6", &repo_boards()).unwrap_err();
    assert!(matches!(e, BoardError::NotFound { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("pi6") && text.contains("none, generic, pi3"),
        "{text}"
    );
    let e = Board::load("pi 4", &repo_boards()).unwrap_err();
    assert!(matches!(e, BoardError::BadName { .. }), "{e:?}");
    let e = Board::load("/nonexistent/pi4.toml", &[]).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/pi4.toml"), "{e}");
}

/// Loads `text` as a file in a temporary directory; the error and the file's path.
fn load_error(text: &str) -> (BoardError, String) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let e = Board::load(path.to_str().unwrap(), &[]).unwrap_err();
    (e, path.display().to_string())
}

/// Asserts that `e` names `path` and `line`, and mentions `needle`.
fn assert_names(e: &BoardError, path: &str, line: usize, needle: &str) {
    let text = e.to_string();
    assert_eq!(e.line(), Some(line), "{text}");
    assert!(
        text.starts_with(&format!("{path}:{line}: ")),
        "{text} should start with {path}:{line}"
    );
    assert!(text.contains(needle), "{text} should mention {needle:?}");
    assert!(!text.contains('\n'), "one line: {text:?}");
}

#[test]
fn a_wrong_type_names_the_file_and_line() {
    let text = pi4_text().replace("cores = 4", "cores = \"four\"");
    let (e, path) = load_error(&text);
    assert!(matches!(e, BoardError::Parse { .. }), "{e:?}");
    assert_names(&e, &path, line_starting(&text, "cores"), "invalid type");

    let text = pi4_text().replace("amber = 27", "amber = 27.5");
    let (e, path) = load_error(&text);
    assert_names(
        &e,
        &path,
        line_starting(&text, "amber = 27.5"),
        "invalid type",
    );
}

#[test]
fn an_unknown_field_names_the_file_and_line() {
    let text = pi4_text().replace("[power]\n", "[power]\nidle_wats = 1.0\n");
    let (e, path) = load_error(&text);
    assert_names(&e, &path, line_starting(&text, "idle_wats"), "idle_wats");

    let text = pi4_text().replace("cores = 4\n", "cores = 4\ncolour = \"red\"\n");
    let (e, path) = load_error(&text);
    assert_names(&e, &path, line_starting(&text, "colour"), "colour");
}

#[test]
fn a_missing_field_is_named() {
    let text = pi4_text().replace("load_watts = 5.0\n", "");
    let (e, path) = load_error(&text);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&path) && msg.contains("load_watts"),
        "{msg}"
    );
}

#[test]
fn a_duplicate_gpio_line_names_the_file_and_line() {
    let text = pi4_text().replace("red = 22", "red = 17");
    let (e, path) = load_error(&text);
    assert!(matches!(e, BoardError::Invalid { .. }), "{e:?}");
    assert_names(
        &e,
        &path,
        line_starting(&text, "red = 17"),
        "red LED on line 17, which the green LED uses already",
    );
}

#[test]
fn a_duplicate_key_names_the_file_and_line() {
    let text = pi4_text().replace("amber = 27\n", "amber = 27\namber = 5\n");
    let (e, path) = load_error(&text);
    assert_names(&e, &path, line_starting(&text, "amber = 5"), "duplicate");
}

#[test]
fn values_out_of_range_name_the_file_and_line() {
    let cases = [
        ("green = 17", "green = 529", "green = 529", "below 64"),
        ("cores = 4", "cores = 0", "cores", "at least 1"),
        (
            "idle_watts = 1.6",
            "idle_watts = -1.0",
            "idle_watts",
            "positive",
        ),
        (
            "load_watts = 5.0",
            "load_watts = nan",
            "load_watts",
            "positive",
        ),
        (
            "idle_watts = 1.6",
            "idle_watts = 6.0",
            "idle_watts",
            "above power.load_watts",
        ),
        (
            "chip = \"/dev/gpiochip0\"",
            "chip = \"gpiochip0\"",
            "chip",
            "absolute",
        ),
        (
            "name = \"pi4\"",
            "name = \"pi/4\"",
            "name",
            "letters, digits",
        ),
        (
            "act = [\"ACT\", \"led0\"]",
            "act = [\"../ACT\"]",
            "act",
            "not an LED name",
        ),
    ];
    for (from, to, line_prefix, needle) in cases {
        let text = pi4_text().replacen(from, to, 1);
        assert_ne!(text, pi4_text(), "{from} is in pi4.toml");
        let (e, path) = load_error(&text);
        assert!(matches!(e, BoardError::Invalid { .. }), "{to}: {e:?}");
        assert_names(&e, &path, line_starting(&text, line_prefix), needle);
    }
    assert_eq!(GPIO_LINE_LIMIT, 64);
}

#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let text = format!("{}\n#{}\n", pi4_text(), "x".repeat(20_000));
    let (e, _) = load_error(&text);
    assert!(matches!(e, BoardError::TooLarge { .. }), "{e:?}");
}

#[test]
fn energy_is_idle_power_over_time_plus_load_per_busy_core() {
    let pi4 = Board::load("pi4", &repo_boards()).unwrap();
    assert_eq!((pi4.idle_watts, pi4.load_watts, pi4.cores), (1.6, 5.0, 4));
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    // An idle hour: 1.6 W × 3600 s.
    assert!(close(pi4.energy_joules(0.0, 3_600.0), 5_760.0));
    // One CPU-second adds a quarter of the 3.4 W between idle and full load.
    assert!(close(pi4.energy_joules(1.0, 1.0), 1.6 + 0.85));
    // Four cores busy for a second is the full-load figure.
    assert!(close(pi4.energy_joules(4.0, 1.0), 5.0));
    // A day of forging at 2 CPU-seconds: the idle draw dominates.
    let day = pi4.energy_joules(2.0, 86_400.0);
    assert!(close(day, 138_240.0 + 1.7));
    // Nonsense counts as nothing.
    assert_eq!(pi4.energy_joules(-5.0, f64::NAN), 0.0);
    assert!(close(pi4.energy_joules(f64::INFINITY, 10.0), 16.0));

    let zero = Board::load("zero2w", &repo_boards()).unwrap();
    assert!(close(zero.energy_joules(0.0, 3_600.0), 2_160.0));
    assert!(
        zero.energy_joules(1.0, 3_600.0) < pi4.energy_joules(1.0, 3_600.0),
        "the Zero 2 W is the frugal one"
    );
}

fn write_profile(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("test.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_missing_gpio_chip_fails_at_start_up_naming_file_line_and_chip() {
    let tmp = tempfile::tempdir().unwrap();
    let text = pi4_text()
        .replace("/dev/gpiochip0", "/nonexistent/gpiochip0")
        .replace("label = \"pinctrl-bcm2711\"\n", "");
    let path = write_profile(tmp.path(), &text);
    let board = Board::load(path.to_str().unwrap(), &[]).unwrap();
    let e = board.open_leds().unwrap_err();
    let msg = e.to_string();
    let at = format!("{}:{}:", path.display(), line_starting(&text, "green = 17"));
    assert!(matches!(e, LedError::Profile { .. }), "{e:?}");
    assert!(msg.starts_with(&at), "{msg} should start with {at}");
    assert!(
        msg.contains("green LED")
            && msg.contains("/nonexistent/gpiochip0")
            && msg.contains("line 17"),
        "{msg}"
    );
}

#[test]
fn a_chip_not_found_by_its_label_names_the_chip_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let text = pi4_text()
        .replace("/dev/gpiochip0", "/nonexistent/gpiochip0")
        .replace("pinctrl-bcm2711", "no-such-label");
    let path = write_profile(tmp.path(), &text);
    let board = Board::load(path.to_str().unwrap(), &[]).unwrap();
    let msg = board.open_leds().unwrap_err().to_string();
    let at = format!("{}:{}:", path.display(), line_starting(&text, "chip ="));
    assert!(msg.starts_with(&at), "{msg} should start with {at}");
    assert!(
        msg.contains("no-such-label") && msg.contains("/nonexistent/gpiochip0"),
        "{msg}"
    );
}

fn fake_led(base: &Path, name: &str) {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("brightness"), "0").unwrap();
    std::fs::write(dir.join("trigger"), "none [mmc0]").unwrap();
}

#[test]
fn onboard_leds_show_green_on_act_and_red_on_pwr() {
    let tmp = tempfile::tempdir().unwrap();
    let sys = tmp.path().join("leds");
    fake_led(&sys, "led0");
    fake_led(&sys, "led1");
    let text = pi4_text().replace("leds = \"gpio\"", "leds = \"onboard\"");
    let path = write_profile(tmp.path(), &text);
    let board = Board::load(path.to_str().unwrap(), &[]).unwrap();
    let mut leds = board.open_leds_in(&sys).unwrap();
    let s = ApplianceState {
        synced: true,
        clock_trusted: true,
        storage_error: true,
        ..Default::default()
    };
    leds.apply(pattern(&s, 0)).unwrap();
    let read = |p: &str| std::fs::read_to_string(sys.join(p)).unwrap();
    assert_eq!(read("led0/brightness"), "1", "old kernels' name for ACT");
    assert_eq!(read("led1/brightness"), "1");
    leds.apply(pattern(&s, 500)).unwrap();
    assert_eq!(read("led0/brightness"), "0");
    assert_eq!(read("led1/brightness"), "1", "storage error: steady red");
}

#[test]
fn a_missing_onboard_led_names_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let sys = tmp.path().join("leds");
    fake_led(&sys, "ACT");
    let text = pi4_text().replace("leds = \"gpio\"", "leds = \"onboard\"");
    let path = write_profile(tmp.path(), &text);
    let board = Board::load(path.to_str().unwrap(), &[]).unwrap();
    let msg = board.open_leds_in(&sys).unwrap_err().to_string();
    let at = format!("{}:{}:", path.display(), line_starting(&text, "pwr ="));
    assert!(msg.starts_with(&at), "{msg} should start with {at}");
    assert!(msg.contains("red LED") && msg.contains("PWR"), "{msg}");
}

#[test]
fn the_profiles_built_into_the_binary_are_those_of_board() {
    let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
    let mut sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    sorted.sort();
    assert_eq!(sorted, Board::available(&repo_boards()));
    for (name, text) in BUILT_IN {
        let file = repo_boards()[0].join(format!("{name}.toml"));
        assert_eq!(text, std::fs::read_to_string(&file).unwrap(), "{name}");
        assert_eq!(Board::from_toml(text, name).unwrap().name, name);
    }
}

#[test]
fn goodwill_forge_with_a_missing_gpio_chip_stops_at_start_up_naming_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = common::keygen(dir, "forger", 20_000);
    let genesis = dir.join("genesis.toml").to_str().unwrap().to_string();
    common::NewGenesis {
        out: &genesis,
        chain_name: None,
        forgers: vec![&key.addr],
        funds: vec![],
        slot_ms: 2_000,
        epoch_slots: 30,
        finality_depth: None,
    }
    .write(20_000);
    let text = pi4_text()
        .replace("/dev/gpiochip0", "/nonexistent/gpiochip0")
        .replace("label = \"pinctrl-bcm2711\"\n", "");
    let profile = write_profile(dir, &text);
    let mut args = common::forge_args(
        dir.join("data").to_str().unwrap(),
        &genesis,
        &key.file,
        &common::free_addr().to_string(),
        "127.0.0.1:0",
    );
    let board = args.iter().position(|a| a == "--board").unwrap() + 1;
    args[board] = profile.to_str().unwrap().to_string();
    let out = common::run(&common::strs(&args), 30_000);
    assert_eq!(out.code, Some(2), "refused to start: {out:#?}");
    let at = format!(
        "error: {}:{}: green LED: GPIO chip /nonexistent/gpiochip0, line 17",
        profile.display(),
        line_starting(&text, "green = 17")
    );
    assert!(
        out.stderr.lines().any(|l| l.starts_with(&at)),
        "{at:?} in {}",
        out.stderr
    );
}

/// Writes `text` at `rel` under the fake sysfs `root`.
fn sys_file(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn power_and_heat_come_from_the_firmware_and_thermal_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // As a Pi 4's kernel has them: a hex word, millidegrees.
    sys_file(root, GET_THROTTLED, "50005\n");
    sys_file(root, THERMAL_ZONE0, "48312\n");
    let sensors = Sensors::find(root);
    assert_eq!(sensors.throttled, Some(root.join(GET_THROTTLED)));
    let h = sensors.read();
    assert_eq!(h.throttled, Some(0x50005));
    assert_eq!(h.temp_mc, Some(48_312));
    assert_eq!(h.under_voltage_now(), Some(true));
    assert!(h.under_voltage());
    assert_eq!(
        h.describe(),
        "power: under-voltage now, throttled now; SoC 48.3 °C"
    );
    // Each read is fresh: the supply was fixed, the since-boot bit stays.
    sys_file(root, GET_THROTTLED, "10000\n");
    let h = sensors.read();
    assert_eq!(h.under_voltage_now(), Some(false));
    assert_eq!(h.under_voltage_since_boot(), Some(true));
    assert!(h.under_voltage(), "since boot still shows");
    sys_file(root, GET_THROTTLED, "0\n");
    assert!(!sensors.read().under_voltage());
}

#[test]
fn the_firmware_node_is_found_on_another_bus() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sys_file(
        root,
        "devices/platform/axi/axi:firmware/get_throttled",
        "20002\n",
    );
    std::fs::create_dir_all(root.join("devices/platform/leds")).unwrap();
    let sensors = Sensors::find(root);
    assert_eq!(
        sensors.throttled,
        Some(root.join("devices/platform/axi/axi:firmware/get_throttled"))
    );
    assert_eq!(sensors.temp, None);
    let h = sensors.read();
    assert_eq!(h.flags(), "frequency capped now");
    assert_eq!(h.temp_mc, None);
    assert!(!h.under_voltage());
}

#[test]
fn a_board_without_the_files_reports_unknown_never_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // An empty tree, a missing one, and files that hold something else.
    for root in [dir.path().to_path_buf(), dir.path().join("absent")] {
        let sensors = Sensors::find(&root);
        assert_eq!((&sensors.throttled, &sensors.temp), (&None, &None));
        assert_eq!(sensors.read(), Health::default());
        assert_eq!(sensors.read().describe(), "power: unknown; SoC unknown");
    }
    let root = dir.path();
    sys_file(root, GET_THROTTLED, "not a word\n");
    sys_file(root, THERMAL_ZONE0, &"9".repeat(100_000));
    let h = Sensors::find(root).read();
    assert_eq!(h, Health::default(), "unparseable files read as unknown");
    // A file that disappears after start reads as unknown too.
    sys_file(root, THERMAL_ZONE0, "40000\n");
    let sensors = Sensors::find(root);
    assert_eq!(sensors.read().temp_mc, Some(40_000));
    std::fs::remove_file(root.join(THERMAL_ZONE0)).unwrap();
    assert_eq!(sensors.read().temp_mc, None);
}

#[test]
fn a_profile_may_name_its_sysfs_root() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Board::none().sysfs, Path::new(SYSFS));
    let pi4 = Board::load("pi4", &repo_boards()).unwrap();
    assert_eq!(pi4.sysfs, Path::new("/sys"));
    let text = pi4_text().replacen("leds = ", "sysfs = \"/tmp/fake-sys\"\nleds = ", 1);
    let b = Board::from_toml(&text, "x.toml").unwrap();
    assert_eq!(b.sysfs, Path::new("/tmp/fake-sys"));
    let text = pi4_text().replacen("leds = ", "sysfs = \"fake-sys\"\nleds = ", 1);
    let path = write_profile(dir.path(), &text);
    let e = Board::load_file(&path).unwrap_err();
    assert_names(
        &e,
        path.to_str().unwrap(),
        line_starting(&text, "sysfs"),
        "not an absolute path",
    );
    assert_eq!(
        Board::none().with_sysfs(dir.path()).sysfs,
        dir.path().to_path_buf()
    );
}
