import Hummingbird
import Logging
import NIOConcurrencyHelpers
import RechargeStore
import ServiceLifecycle

/// Whether the database is ready for this process: reachable, its schema at this build's version, and the start's
/// own writes done (the first admin key, demo data). A node restarted by its supervisor while PostgreSQL is down
/// starts anyway: it listens, answers `/healthz` 503 and every other route 503 `database-unavailable` with
/// `Retry-After`, and opens as soon as ``DatabaseStartup`` has prepared the database.
public final class StartupGate: Sendable {
    private struct State {
        var ready: Bool
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state: NIOLockedValueBox<State>

    /// `ready: true` for a database already prepared (SQLite, tests, a start that found PostgreSQL up).
    public init(ready: Bool = true) {
        state = NIOLockedValueBox(State(ready: ready))
    }

    public var isReady: Bool { state.withLockedValue { $0.ready } }

    /// Opens the gate: requests are served, and every ``waitUntilReady()`` returns.
    public func open() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.ready = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the gate is open, or at once when the task is cancelled (check ``isReady`` after).
    public func waitUntilReady() async {
        let id = state.withLockedValue { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLockedValue { state -> Bool in
                    if state.ready || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Answers for a process whose database is not ready yet (``StartupGate``): `/healthz` 503, `/metrics` and
/// `/openapi.json` as usual (they do not need the database), everything else 503 `database-unavailable` with
/// `Retry-After: 1` (thrown, so ``ProblemMiddleware`` writes it). Costs one lock read per request once open.
struct StartupMiddleware<Context: RequestContext>: RouterMiddleware {
    let gate: StartupGate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if gate.isReady { return try await next(request, context) }
        switch request.uri.path {
        case "/metrics", "/openapi.json":
            return try await next(request, context)
        case "/healthz":
            return try HealthReply.starting.response(from: request, context: context)
        default:
            throw DatabaseError.unavailable("the database is not ready yet: this node is waiting for it")
        }
    }
}

/// Prepares the database in the background until it can (`prepare`: the schema check or migration, then the
/// start's own writes), retrying every second while the database is unreachable, then opens the gate. Any other
/// failure (a schema older than this build without `--migrate`) stops the process with its reason, as a failed
/// start would. Migrations are applied each in its own transaction, so an outage in the middle of one leaves it
/// not applied, and the next attempt applies it whole.
public struct DatabaseStartup: Service {
    let gate: StartupGate
    let prepare: @Sendable () async throws -> Void
    let logger: Logger

    public init(gate: StartupGate, logger: Logger, prepare: @escaping @Sendable () async throws -> Void) {
        self.gate = gate
        self.prepare = prepare
        self.logger = logger
    }

    public func run() async throws {
        var attempts = 0
        while !gate.isReady {
            do {
                try await prepare()
                gate.open()
                logger.notice("Database ready: serving requests", metadata: ["attempts": "\(attempts + 1)"])
                return
            } catch let error where DatabaseError.isUnavailable(error) {
                attempts += 1
                if attempts == 1 || attempts % 30 == 0 {
                    logger.warning("Waiting for the database; answering 503 meanwhile", metadata: ["reason": "\(error)", "attempts": "\(attempts)"])
                }
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                } catch {
                    return   // shutting down before the database came back
                }
            }
        }
    }
}

/// A background service that starts only once the database is ready (the outbox delivery, the reminder scan,
/// order reconciliation): before that it would only log the outage every few seconds.
public struct AfterStartup: Service {
    let gate: StartupGate
    let service: any Service

    public init(_ service: any Service, gate: StartupGate) {
        self.service = service
        self.gate = gate
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { await gate.waitUntilReady() }
        guard gate.isReady else { return }   // shut down before the database was ready
        try await service.run()
    }
}
