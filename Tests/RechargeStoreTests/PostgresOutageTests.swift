import Foundation
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// The database going away under a running process: PostgreSQL stopped with `-m immediate` while queries stream
/// rows. The process must survive (answer `unavailable`, then serve again), never crash. Each round restarts the
/// test cluster, so the suite runs only where scripts/start-postgres's cluster can be controlled. Rounds:
/// `RECHARGE_OUTAGE_ROUNDS` (default 10; 200 by hand, docs/postgresnio-eof-report.md).
@Suite("PostgreSQL stopped under streaming queries", .serialized,
       .enabled(if: PostgresServerControl.available, "needs the cluster of scripts/start-postgres (RECHARGE_PG_DIR)"))
struct PostgresOutageTests {
    static var rounds: Int { Int(ProcessInfo.processInfo.environment["RECHARGE_OUTAGE_ROUNDS"] ?? "") ?? 10 }

    @Test func streamingQueriesSurviveImmediateShutdowns() async throws {
        let url = try #require(TestDatabase.postgresURL)
        let database = try await Database.open(.postgres(url: url))
        defer { Task { await database.close() } }
        var failedQueries = 0
        var completedQueries = 0
        for round in 0..<Self.rounds {
            // Four readers, each streaming a result larger than the socket buffers, so that most of it is still on
            // its way when the server goes.
            let readers = (0..<4).map { _ in
                Task { () -> (completed: Int, failed: Int) in
                    var counts = (completed: 0, failed: 0)
                    while !Task.isCancelled {
                        do {
                            let rows = try await database.read(timeout: .seconds(20)) { db in
                                try await db.raw("SELECT g, repeat('x', 200) AS filler FROM generate_series(1, 4000) AS g").all()
                            }
                            #expect(rows.count == 4000)
                            counts.completed += 1
                        } catch {
                            // Cut short by the outage: this reader is done for the round.
                            counts.failed += 1
                            return counts
                        }
                    }
                    return counts
                }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 30...250)))
            let stopping = ContinuousClock.now
            try await PostgresServerControl.restartImmediately()
            let restarted = ContinuousClock.now
            for reader in readers {
                let counts = await reader.value
                completedQueries += counts.completed
                failedQueries += counts.failed
            }
            // Served again once the server is back (the circuit breaker's probe swaps in a fresh pool).
            let back = ContinuousClock.now
            while true {
                do {
                    let row = try await database.read { db in try await db.raw("SELECT 1 AS one").first() }
                    #expect(try row?.decode(column: "one", as: Int.self) == 1)
                    if round % 5 == 0 { print("outage round \(round): restart \(restarted - stopping), serving again after \(ContinuousClock.now - restarted)") }
                    break
                } catch {
                    #expect(ContinuousClock.now - back < .seconds(30), "round \(round): not serving 30 s after the restart: \(error)")
                    if ContinuousClock.now - back >= .seconds(30) { return }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        // Every round cut some queries short: the outage really happened mid-stream.
        #expect(failedQueries >= Self.rounds, "\(failedQueries) queries failed in \(Self.rounds) outages, \(completedQueries) completed")
    }
}
