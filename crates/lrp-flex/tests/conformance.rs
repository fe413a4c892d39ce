//! The shared conformance suite on burn's Flex backend, in f64 and f32.
lrp_conformance::conformance_tests!(lrp_flex::device(), [F64, F32]);

#[test]
fn the_device_can_be_requested_twice() {
    let first = lrp_flex::device();
    let second = lrp_flex::device();
    assert_eq!(first, second);
    assert_eq!(second.settings().float_dtype, burn::tensor::FloatDType::F64);
}
