import Foundation
import Testing

extension Tag {
    /// Tests that take seconds or more (end to end, reference scripts, training): `scripts/test --fast` skips them.
    @Tag public static var slow: Self
}

extension Trait where Self == ConditionTrait {
    /// Disables a slow suite when `VAE_TESTS_FAST` is set (`scripts/test --fast`): this toolchain's `swift test`
    /// cannot skip by tag, so the tag's suites carry this condition too.
    public static var skippedWhenFast: Self {
        .disabled(if: ProcessInfo.processInfo.environment["VAE_TESTS_FAST"] != nil, "slow; scripts/test --fast skips it")
    }
}
