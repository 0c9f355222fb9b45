import Foundation

/// Who a failed redemption is counted against. A failure is a well-formed PIN (right length, right check
/// digit) that matches no card at all: typing mistakes are caught by the check digit and never
/// count, and a PIN that matched a card (used, expired …) is not a guess.
public enum VoucherGuardSubject: Hashable, Sendable {
    /// The line being recharged.
    case line(String)
    /// The caller: an API key, an IP address, a USSD session's gateway.
    case client(String)
    /// A redemption channel as a whole (api, portal, ivr, ussd …): the breaker.
    case channel(String)

    /// The row key in the store.
    public var key: String {
        switch self {
        case .line(let msisdn): "line:\(msisdn)"
        case .client(let client): "client:\(client)"
        case .channel(let channel): "channel:\(channel)"
        }
    }

    public var isChannel: Bool { if case .channel = self { true } else { false } }
}

/// Failures of one subject, as stored.
public struct VoucherGuardCounter: Sendable, Equatable {
    /// Failures since `windowStart`.
    public var failures: Int
    public var windowStart: Date
    /// Lockouts so far; each lasts twice as long as the one before (lines and clients).
    public var lockouts: Int
    public var lockedUntil: Date?
    public var lastFailure: Date

    public init(failures: Int, windowStart: Date, lockouts: Int, lockedUntil: Date?, lastFailure: Date) {
        self.failures = failures
        self.windowStart = windowStart
        self.lockouts = lockouts
        self.lockedUntil = lockedUntil
        self.lastFailure = lastFailure
    }
}

/// The brute-force defence, as arithmetic: how many failures a line or client may make before a lockout,
/// how lockouts grow, and when a whole channel pauses. The store applies it to counters kept in the database
/// (so several server processes share them); the same numbers bound what an attacker can expect to find.
public struct VoucherGuessingPolicy: Sendable, Equatable {
    /// Failures a line or client may make within ``failureWindow`` before it is locked out.
    public var maxFailures: Int = 5
    public var failureWindow: TimeInterval = 3_600
    /// The first lockout; each further one doubles, up to ``maximumLockout``.
    public var firstLockout: TimeInterval = 15 * 60
    public var maximumLockout: TimeInterval = 24 * 3_600
    /// A subject with no failure for this long starts again from the first lockout.
    public var lockoutMemory: TimeInterval = 7 * 24 * 3_600
    /// The breaker: failures from this many distinct sources (end users; behind a gateway, lines) on one channel within
    /// ``channelWindow`` pause the channel for ``channelPause``. Distinct, so that one subscriber, who is locked out on
    /// their own after ``maxFailures``, cannot pause the channel for everyone.
    public var channelThreshold: Int = 10
    public var channelWindow: TimeInterval = 60
    public var channelPause: TimeInterval = 10 * 60

    public init() {}

    /// The failures `subject` may make within one window before it is locked out (a channel: paused).
    public func threshold(_ subject: VoucherGuardSubject) -> Int { subject.isChannel ? channelThreshold : maxFailures }

    /// Failures of `counter` that still count at `now` (none once its window has passed).
    public func failuresInWindow(_ counter: VoucherGuardCounter?, subject: VoucherGuardSubject, now: Date) -> Int {
        guard let counter else { return 0 }
        return now.timeIntervalSince(counter.windowStart) < (subject.isChannel ? channelWindow : failureWindow) ? counter.failures : 0
    }

    /// Until when `subject` may not redeem, or nil if it may now.
    public func lockedUntil(_ counter: VoucherGuardCounter?, now: Date) -> Date? {
        guard let until = counter?.lockedUntil, until > now else { return nil }
        return until
    }

    /// The lockout that follows the `lockouts`-th one.
    public func lockoutDuration(number lockouts: Int) -> TimeInterval {
        guard lockouts > 0 else { return 0 }
        var duration = firstLockout
        for _ in 1..<lockouts {
            duration *= 2
            if duration >= maximumLockout { return maximumLockout }
        }
        return min(duration, maximumLockout)
    }

    /// The counter after one more failure at `now`.
    public func recordingFailure(_ counter: VoucherGuardCounter?, subject: VoucherGuardSubject, now: Date) -> VoucherGuardCounter {
        let window = subject.isChannel ? channelWindow : failureWindow
        let threshold = subject.isChannel ? channelThreshold : maxFailures
        var next = counter ?? VoucherGuardCounter(failures: 0, windowStart: now, lockouts: 0, lockedUntil: nil, lastFailure: now)
        if now.timeIntervalSince(next.lastFailure) >= lockoutMemory { next.lockouts = 0 }
        // A window starts with its first failure (a row may exist with none: it is created before a PIN is checked).
        if next.failures == 0 || now.timeIntervalSince(next.windowStart) >= window {
            next.failures = 0
            next.windowStart = now
        }
        next.failures += 1
        next.lastFailure = now
        if next.failures >= threshold {
            next.lockouts += 1
            let duration = subject.isChannel ? channelPause : lockoutDuration(number: next.lockouts)
            next.lockedUntil = now.addingTimeInterval(duration)
            next.failures = 0
            next.windowStart = now
        }
        return next
    }

    // MARK: What an attacker can expect

    /// The most guesses one line or client can make in `duration` when it guesses at the lockout rate: a full
    /// allowance of failures each time a lockout ends.
    public func guessesPerSubject(over duration: TimeInterval) -> Int64 {
        var elapsed: TimeInterval = 0
        var guesses: Int64 = 0
        var lockouts = 0
        while elapsed < duration {
            guesses += Int64(maxFailures)
            lockouts += 1
            elapsed += lockoutDuration(number: lockouts)
        }
        return guesses
    }

    /// The most failures one channel lets through in `duration` without its breaker tripping, whatever number of
    /// lines and clients the attacker spreads them over: in every window, one source short of the threshold, each
    /// source failing up to its own limit (the breaker counts a source once, so that one subscriber cannot trip it;
    /// the price is this factor of ``maxFailures``).
    public func guessesPerChannel(over duration: TimeInterval) -> Int64 {
        let windows = (duration / channelWindow).rounded(.up)
        return Int64(windows) * Int64(channelThreshold - 1) * Int64(maxFailures)
    }

    /// Expected number of valid PINs found by `guesses` distinct well-formed guesses when `activeVouchers` of the
    /// `pinLength`-digit PIN space are live: each guess hits with probability active / space (an upper bound).
    public static func expectedHits(guesses: Int64, activeVouchers: Int64, pinLength: Int) -> Double {
        Double(guesses) * Double(activeVouchers) / VoucherPIN.keySpace(length: pinLength)
    }
}
