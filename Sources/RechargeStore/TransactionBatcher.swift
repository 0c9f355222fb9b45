import NIOConcurrencyHelpers
import SQLKit

/// Small independent writes from concurrent callers (the delivery worker's "sent", "failed" and "dead"
/// marks) share transactions, like the ledger's group commit: a caller that finds no batch running leads,
/// and runs everything queued meanwhile in one transaction, so a round of N deliveries costs one commit
/// instead of N. Each write returns the rows it changed, which its caller checks. If the shared
/// transaction fails, its writes are retried one per transaction, so one failing write cannot fail the
/// others.
final class TransactionBatcher: Sendable {
    typealias Write = @Sendable (any SQLDatabase) async throws -> Int

    private struct Pending {
        let write: Write
        let continuation: CheckedContinuation<Int, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var leading = false
    }

    private let database: Database
    private let state = NIOLockedValueBox(State())
    private let maxBatch: Int

    init(database: Database, maxBatch: Int = 500) {
        self.database = database
        self.maxBatch = maxBatch
    }

    func run(_ write: @escaping Write) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let lead = state.withLockedValue { state -> Bool in
                state.queue.append(Pending(write: write, continuation: continuation))
                guard !state.leading else { return false }
                state.leading = true
                return true
            }
            if lead { Task { await self.lead() } }
        }
    }

    private func lead() async {
        while let batch = nextBatch() {
            do {
                let counts = try await database.transaction { db in
                    var counts: [Int] = []
                    for pending in batch { counts.append(try await pending.write(db)) }
                    return counts
                }
                for (pending, count) in zip(batch, counts) { pending.continuation.resume(returning: count) }
            } catch {
                for pending in batch {
                    do {
                        let count = try await database.transaction { db in try await pending.write(db) }
                        pending.continuation.resume(returning: count)
                    } catch {
                        pending.continuation.resume(throwing: error)
                    }
                }
            }
        }
    }

    private func nextBatch() -> [Pending]? {
        state.withLockedValue { state -> [Pending]? in
            guard !state.queue.isEmpty else {
                state.leading = false
                return nil
            }
            let count = min(maxBatch, state.queue.count)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
    }
}
