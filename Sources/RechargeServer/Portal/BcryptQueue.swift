import Foundation
import HummingbirdBcrypt
import NIOConcurrencyHelpers

/// Every bcrypt hash and verification of the portal goes through here: at most `concurrency` run at once (each
/// takes a core for a quarter of a second at cost 12), at most `waiting` more wait their turn, and anything beyond
/// is refused at once with ``Busy`` — a fast 429 with `Retry-After` — instead of piling up until every login
/// takes seconds. It also counts what it ran, which is how tests prove that a request did no bcrypt work.
public final class BcryptQueue: Sendable {
    /// The queue is full; try again after about `retryAfterSeconds`.
    public struct Busy: Error, Sendable, Equatable {
        public let retryAfterSeconds: Int
    }

    public let concurrency: Int
    public let waiting: Int

    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var runs = 0
        var refusals = 0
        /// Moving average of one computation, for `Retry-After`.
        var averageSeconds = 0.25
    }

    private let state = NIOLockedValueBox(State())

    /// `concurrency` at least 1 (the default: the core count); `waiting` at least 0 (default: four per slot).
    public init(concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, waiting: Int? = nil) {
        self.concurrency = max(1, concurrency)
        self.waiting = max(0, waiting ?? 4 * max(1, concurrency))
    }

    /// bcrypt computations started since this queue was made.
    public var runs: Int { state.withLockedValue { $0.runs } }
    /// Requests refused because the queue was full.
    public var refusals: Int { state.withLockedValue { $0.refusals } }

    public func hash(_ password: String, cost: UInt8) async throws -> String {
        try await run { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await run { Bcrypt.verify(password, hash: hash) }
    }

    /// Runs `work` (a bcrypt computation) in a slot: internal so tests can hold a slot as long as they like.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        let concurrency = self.concurrency, waiting = self.waiting
        var retryAfter = 1
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            state.withLockedValue { state in
                if state.running < concurrency {
                    state.running += 1
                    continuation.resume(returning: true)
                } else if state.waiters.count < waiting {
                    state.waiters.append(continuation)
                } else {
                    state.refusals += 1
                    let queued = Double(state.running + state.waiters.count)
                    retryAfter = max(1, Int((queued / Double(concurrency) * state.averageSeconds).rounded(.up)))
                    continuation.resume(returning: false)
                }
            }
        }
        guard admitted else { throw Busy(retryAfterSeconds: retryAfter) }
        defer {
            state.withLockedValue { state in
                // The slot passes straight to the next in line (`running` stays), or is freed.
                if state.waiters.isEmpty { state.running -= 1 } else { state.waiters.removeFirst().resume(returning: true) }
            }
        }
        state.withLockedValue { $0.runs += 1 }
        let start = ContinuousClock.now
        let value = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.withLockedValue { $0.averageSeconds = $0.averageSeconds * 0.8 + seconds * 0.2 }
        return value
    }
}
