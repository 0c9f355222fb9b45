/// Exponential back-off between attempts: `initial`, doubling, capped at `maximum`. Deterministic, so the
/// delays can be checked in tests; one SMSC per client means there is no crowd to spread with jitter.
public struct SMPPBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before attempt `failures + 1`, after `failures` (≥ 1) failures in a row.
    public func delay(afterFailures failures: Int) -> Duration {
        guard failures > 1 else { return min(initial, maximum) }
        var delay = initial
        for _ in 1..<min(failures, 32) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return delay
    }
}
