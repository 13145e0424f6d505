//! trace's number format against a reference table of what Go's
//! `strconv.FormatFloat(x, 'g', -1, 64)` prints (wazero's trace and logging use it).

use keel::logging::format_float;

#[test]
fn floats_as_go_formats_them() {
    let table: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-3.0, "-3"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (3.3, "3.3"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0 / 3.0, "0.3333333333333333"),
        (2.0 / 3.0, "0.6666666666666666"),
        (100.0, "100"),
        (100000.0, "100000"),
        (123456.0, "123456"),
        (999999.0, "999999"),
        (123456.7, "123456.7"),
        // A decimal exponent of 6 or more: exponent form (Go's shortest 'g' decides with 6).
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (12345678.9, "1.23456789e+07"),
        (9007199254740992.0, "9.007199254740992e+15"),
        (1e20, "1e+20"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (1.5e300, "1.5e+300"),
        (f64::MAX, "1.7976931348623157e+308"),
        // Below -4: exponent form, at least two exponent digits.
        (0.0001, "0.0001"),
        (0.000123, "0.000123"),
        (0.00001, "1e-05"),
        (5e-5, "5e-05"),
        (1.25e-7, "1.25e-07"),
        (5e-324, "5e-324"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        // Shortest digits where a shorter form is exactly halfway and reads back (Go accepts it).
        (4.468743327960138e16, "4.468743327960138e+16"),
        // wazero's seed test: the bits 0x1bbf64b1967f8c53.
        (f64::from_bits(0x1bbf_64b1_967f_8c53), "4.958153677776298e-175"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for &(x, want) in table {
        assert_eq!(format_float(x), want, "{x:?}");
    }
}

#[test]
fn shortest_digits_read_back() {
    // Every format reads back as the same float, over a spread of magnitudes and bit patterns.
    let mut bits: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        bits ^= bits << 13;
        bits ^= bits >> 7;
        bits ^= bits << 17;
        let x = f64::from_bits(bits);
        if !x.is_finite() {
            continue;
        }
        let s = format_float(x);
        let back: f64 = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(back.to_bits(), x.to_bits(), "{x:?} as {s}");
        // No shorter decimal of the same magnitude reads back (the digits are the shortest).
        let digits = s.trim_start_matches('-').split('e').next().unwrap().replace('.', "");
        let digits = digits.trim_start_matches('0').trim_end_matches('0').len();
        if digits > 1 {
            let shorter = format!("{:.*e}", digits - 2, x);
            assert_ne!(shorter.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{x:?}: {s}");
        }
    }
}
