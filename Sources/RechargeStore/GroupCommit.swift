import Foundation
import NIOConcurrencyHelpers
import RechargeCore

/// One top-up or debit waiting for the writer, with everything needed to apply it.
struct LedgerRequest: Sendable {
    enum Command: Sendable {
        case topUp(TopUpCommand)
        case debit(DebitCommand)
    }

    let command: Command
    let key: IdempotencyKey
    /// SHA-256 of the command's canonical text: a retry must match it.
    let fingerprint: String
    let now: Date
    /// The operator-side account on the other side of every transfer: the channel's clearing account or
    /// the allowance account for a top-up, the usage revenue account for a debit.
    let counterparty: Int64
    /// Why the operation exists, stored in its typed columns (see ``OperationPurpose``).
    let purpose: OperationPurpose

    var msisdn: MSISDN {
        switch command {
        case .topUp(let command): command.msisdn
        case .debit(let command): command.msisdn
        }
    }

    var kind: LedgerOperation.Kind {
        switch command {
        case .topUp: .topUp
        case .debit: .debit
        }
    }
}

extension LedgerRequest {
    /// A request the store makes itself (order fulfilment, refunds, disputes): the key built from its purpose, the
    /// fingerprint from the command.
    init(_ command: Command, purpose: OperationPurpose, now: Date, counterparty: Int64) throws {
        guard let key = purpose.idempotencyKey else {
            throw DatabaseError.invariantViolated("a \(purpose.name.rawValue) operation has no key of the server's own")
        }
        let fingerprint: String
        switch command {
        case .topUp(let topUp): fingerprint = topUp.fingerprint
        case .debit(let debit): fingerprint = debit.fingerprint
        }
        self.init(command: command, key: try IdempotencyKey(key), fingerprint: sha256Hex(fingerprint), now: now, counterparty: counterparty,
                  purpose: purpose)
    }
}

/// How much batching a group-commit writer did: requests per transaction is `requests / batches`.
public struct GroupCommitStatistics: Sendable, Equatable {
    public var batches = 0
    public var requests = 0
    public var largestBatch = 0
    public var retriedOneByOne = 0
    /// Wall time spent applying batches: divided by `batches` it is the mean batch latency, and over an
    /// interval it is how busy the (serial) writer was.
    public var busyMicroseconds: Int64 = 0
}

/// Group commit: concurrent requests queue here and a leader applies everything queued so far in a single
/// transaction, so many operations share one commit and one fsync, the way TigerBeetle batches transfers.
/// No background task is needed: a request that finds fewer than `leaders` batches running becomes a
/// leader and drains the queue until it is empty. The ledger uses one leader per process on both engines.
/// (Several leaders on PostgreSQL would overlap one batch's round trips with another's, the way two nodes
/// do; tried with three, batches stalled for most of a second each, so it stays off until that is
/// understood: bench/README.md.)
///
/// Within a batch the requests are applied in arrival order, so operations on one line keep their order.
/// A business rejection refuses only its own request. If the batch's transaction fails (a database error),
/// its requests are retried one by one, so one bad request cannot fail its neighbours.
///
/// Generic over what is written: the ledger's top-ups and debits (``LedgerRequest``), and the charging engine's
/// credit-control requests (``ChargingRequest``), each batch in one transaction of its own kind.
final class GroupCommitWriter<Request: Sendable, Output: Sendable>: Sendable {
    typealias Apply = @Sendable ([Request]) async throws -> [Result<Output, any Error>]
    typealias Statistics = GroupCommitStatistics

    private struct Pending {
        let request: Request
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var leaders = 0
        var statistics = Statistics()
    }

    var statistics: Statistics { state.withLockedValue { $0.statistics } }

    private let state = NIOLockedValueBox(State())
    private let maxBatch: Int
    private let apply: Apply

    /// Where the leader runs (``Database/writerExecutor``), off Swift's shared pool.
    private let executor: any TaskExecutor

    /// `apply` runs one batch in one transaction and returns one result per request, in order.
    private let maxLeaders: Int

    init(maxBatch: Int = 256, leaders: Int = 1, executor: any TaskExecutor, apply: @escaping Apply) {
        precondition(leaders > 0)
        self.maxBatch = maxBatch
        self.maxLeaders = leaders
        self.executor = executor
        self.apply = apply
    }

    func submit(_ request: Request) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let lead = state.withLockedValue { state -> Bool in
                state.queue.append(Pending(request: request, continuation: continuation))
                guard state.leaders < maxLeaders else { return false }
                state.leaders += 1
                return true
            }
            if lead { Task(executorPreference: executor) { await self.drain() } }
        }
    }

    private func drain() async {
        while let batch = nextBatch() {
            let start = ContinuousClock.now
            await run(batch)
            let elapsed = (ContinuousClock.now - start).components
            state.withLockedValue { $0.statistics.busyMicroseconds += elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000 }
        }
    }

    private func nextBatch() -> [Pending]? {
        state.withLockedValue { state -> [Pending]? in
            guard !state.queue.isEmpty else {
                state.leaders -= 1
                return nil
            }
            let count = min(maxBatch, state.queue.count)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            state.statistics.batches += 1
            state.statistics.requests += count
            state.statistics.largestBatch = max(state.statistics.largestBatch, count)
            return batch
        }
    }

    private func run(_ batch: [Pending]) async {
        do {
            let results = try await apply(batch.map(\.request))
            for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result) }
        } catch {
            // An unreachable database is not one request's fault: answer the whole batch now instead of
            // retrying each request into the same outage.
            guard batch.count > 1, !DatabaseError.isUnavailable(error) else {
                for pending in batch { pending.continuation.resume(throwing: error) }
                return
            }
            state.withLockedValue { $0.statistics.retriedOneByOne += 1 }
            for pending in batch {
                do {
                    let results = try await apply([pending.request])
                    pending.continuation.resume(with: results[0])
                } catch {
                    pending.continuation.resume(throwing: error)
                }
            }
        }
    }
}
