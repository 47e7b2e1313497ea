import Testing

extension Tag {
    /// Tests that take seconds or more (end to end, reference scripts, training): `scripts/test --fast` skips them.
    @Tag public static var slow: Self
}
