use temperature::{celsius_to_fahrenheit, fahrenheit_to_celsius};

#[test]
fn body_temperature_round_trips() {
    let c = fahrenheit_to_celsius(celsius_to_fahrenheit(37.0));
    assert!((c - 37.0).abs() < 1e-9, "37 °C came back as {c} °C");
}

#[test]
fn minus_forty_is_the_same_on_both_scales() {
    assert_eq!(celsius_to_fahrenheit(-40.0), -40.0);
}
