import Foundation

/// Who is redeeming, as the brute-force defence sees it.
public enum VoucherClientKind: String, Sendable, Equatable {
    /// One end user (a portal account, an IP address): locked out as a client, and one source for the channel's breaker.
    case endUser
    /// A gateway serving many end users (an API key: an IVR or USSD platform, a partner's backend). It is not locked out
    /// as a client, which would lock out all its users at once; its end users are told apart by their lines, and all its
    /// guesses are bounded by the breaker of the one channel its key is issued for.
    case gateway
}

/// One redemption attempt, as far as the lockouts and the breaker need it.
public struct VoucherGuardAttempt: Sendable, Equatable {
    public let channel: String
    /// The line being recharged (E.164).
    public let line: String
    public let client: String
    public let clientKind: VoucherClientKind

    public init(channel: String, line: String, client: String, clientKind: VoucherClientKind) {
        self.channel = channel
        self.line = line
        self.client = client
        self.clientKind = clientKind
    }

    /// Who a failure counts against, in the order lockouts are checked.
    public var subjects: [VoucherGuardSubject] {
        clientKind == .endUser ? [.channel(channel), .line(line), .client(client)] : [.channel(channel), .line(line)]
    }

    /// What the breaker counts once per window: the end user, or behind a gateway the line.
    public var breakerSource: String { clientKind == .endUser ? VoucherGuardSubject.client(client).key : VoucherGuardSubject.line(line).key }
}

/// The counters of one group of attempts, read under the lock (SQLite's one writer, PostgreSQL's `FOR UPDATE` on the
/// counter rows), and the decisions taken with them. An attempt is **admitted** (may have its PIN checked) only if
/// every subject it would count against still has room for one more failure counting the attempts already admitted
/// and not yet decided; it is then **settled**: a failure is counted, anything else gives its room back. So however
/// many attempts arrive at once, at most the limit of each subject reach the PIN check; an honest PIN among them
/// costs nothing. The store settles each attempt before it admits the next (it reads which PINs name a card under
/// the same lock), so nothing is ever held for long: room held across many attempts in flight would refuse honest
/// redemptions whenever many arrive at once.
public struct VoucherGuardTally: Sendable {
    public let policy: VoucherGuessingPolicy
    /// By subject key; a missing counter has no failures.
    public private(set) var counters: [String: VoucherGuardCounter]
    /// Per channel, the sources whose failure the breaker has counted, with when.
    public private(set) var sources: [String: [String: Date]]
    /// Subject keys whose counter changed, to be written back.
    public private(set) var changed: Set<String> = []
    /// Sources counted by this tally's failures: (channel, source, at), to be written back.
    public private(set) var countedSources: [(channel: String, source: String, at: Date)] = []
    /// Lockouts and pauses that began here (for the log): subject, until, lockout number.
    public private(set) var started: [(subject: VoucherGuardSubject, until: Date, lockouts: Int)] = []
    private var pending: [String: Int] = [:]
    /// Per channel and source: attempts admitted and not yet settled, and whether they hold room in the breaker.
    private var pendingSources: [String: [String: (count: Int, holdsChannel: Bool)]] = [:]

    public init(policy: VoucherGuessingPolicy, counters: [String: VoucherGuardCounter], sources: [String: [String: Date]]) {
        self.policy = policy
        self.counters = counters
        self.sources = sources
    }

    /// Whether a failure from `source` would be a new one for the breaker of `channel` at `now`.
    private func isNewSource(_ source: String, channel: String, now: Date) -> Bool {
        let subject = VoucherGuardSubject.channel(channel)
        guard let counter = counters[subject.key], policy.failuresInWindow(counter, subject: subject, now: now) > 0,
              let at = sources[channel]?[source] else { return true }
        return at < counter.windowStart
    }

    /// The lockout or pause that refuses `attempt` now, if any, without holding room: for an attempt that repeats a PIN
    /// already admitted (a retry storm of one card): it tells a guesser nothing the first did not, so it is neither
    /// held nor counted.
    public func lockRefusal(_ attempt: VoucherGuardAttempt, now: Date) -> VoucherError? {
        for subject in attempt.subjects {
            if let until = policy.lockedUntil(counters[subject.key], now: now) { return Self.refusal(subject, until: until) }
        }
        return nil
    }

    /// Admits `attempt` (and holds its room until ``settle(_:failed:now:)``), or says why not.
    public mutating func admit(_ attempt: VoucherGuardAttempt, now: Date) -> VoucherError? {
        let newSource = isNewSource(attempt.breakerSource, channel: attempt.channel, now: now)
            && pendingSources[attempt.channel]?[attempt.breakerSource] == nil
        for subject in attempt.subjects {
            let counter = counters[subject.key]
            if let until = policy.lockedUntil(counter, now: now) { return Self.refusal(subject, until: until) }
            if subject.isChannel && !newSource { continue }
            if policy.failuresInWindow(counter, subject: subject, now: now) + pending[subject.key, default: 0] >= policy.threshold(subject) {
                // The attempts in flight would use up the allowance: refused as if they had failed (they most likely will).
                let lockouts = counter.map { now.timeIntervalSince($0.lastFailure) >= policy.lockoutMemory ? 0 : $0.lockouts } ?? 0
                let duration = subject.isChannel ? policy.channelPause : policy.lockoutDuration(number: lockouts + 1)
                return Self.refusal(subject, until: now.addingTimeInterval(duration))
            }
        }
        for subject in attempt.subjects where !subject.isChannel || newSource { pending[subject.key, default: 0] += 1 }
        let held = pendingSources[attempt.channel]?[attempt.breakerSource]
        pendingSources[attempt.channel, default: [:]][attempt.breakerSource] = ((held?.count ?? 0) + 1, held?.holdsChannel ?? newSource)
        return nil
    }

    /// Decides an admitted attempt: `failed` (its PIN matched no card) counts against each of its subjects (its
    /// channel only for a source new in the breaker's window); otherwise its room is given back.
    public mutating func settle(_ attempt: VoucherGuardAttempt, failed: Bool, now: Date) {
        let heldSource = isNewSource(attempt.breakerSource, channel: attempt.channel, now: now)
        func release(_ key: String) {
            if let held = pending[key] { pending[key] = held > 1 ? held - 1 : nil }
        }
        for subject in attempt.subjects where !subject.isChannel { release(subject.key) }
        // The breaker's room is held per source, by its first attempt, until its last one is settled.
        if let held = pendingSources[attempt.channel]?[attempt.breakerSource] {
            pendingSources[attempt.channel]?[attempt.breakerSource] = held.count > 1 ? (held.count - 1, held.holdsChannel) : nil
            if held.count == 1 && held.holdsChannel { release(VoucherGuardSubject.channel(attempt.channel).key) }
        }
        guard failed else { return }
        for subject in attempt.subjects {
            if subject.isChannel {
                guard heldSource else { continue }
                sources[attempt.channel, default: [:]][attempt.breakerSource] = now
                countedSources.append((attempt.channel, attempt.breakerSource, now))
            }
            let before = counters[subject.key]
            let next = policy.recordingFailure(before, subject: subject, now: now)
            counters[subject.key] = next
            changed.insert(subject.key)
            if let until = next.lockedUntil, until > now, before?.lockedUntil != until { started.append((subject, until, next.lockouts)) }
        }
    }

    static func refusal(_ subject: VoucherGuardSubject, until: Date) -> VoucherError {
        if case .channel(let channel) = subject { return .channelPaused(channel: channel, until: until) }
        return .lockedOut(subject: subject.key, until: until)
    }
}
