import Foundation
import Hummingbird
import RechargeStore

/// Unauthenticated operational routes: `/healthz`, `/metrics` (Prometheus text) and `/openapi.json`.
struct SystemController {
    let services: RechargeServices

    /// `metrics` is false when `/metrics` has a listener of its own (``buildMetricsApplication(_:port:services:logger:)``).
    func addRoutes(to router: Router<RechargeRequestContext>, metrics: Bool = true) {
        router.get("healthz", use: health)
        if metrics { addMetricsRoute(to: router) }
        router.get("openapi.json", use: openAPI)
    }

    func addMetricsRoute(to router: Router<RechargeRequestContext>) {
        router.get("metrics", use: metrics)
    }

    @Sendable func health(_ request: Request, context: RechargeRequestContext) async throws -> HealthReply {
        do {
            _ = try await services.database.read { db in try await db.raw("SELECT 1 AS ok").first() }
            return .ok
        } catch {
            // An unreachable database is logged once by the circuit breaker, not on every probe of a load balancer.
            if !DatabaseError.isUnavailable(error) {
                context.logger.error("Health check failed", metadata: ["error": "\(error)"])
            }
            return .databaseUnreachable
        }
    }

    @Sendable func metrics(_ request: Request, context: RechargeRequestContext) async throws -> MetricsText {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        services.metrics.emit(into: &buffer)
        // Batching of the ledger's writes (group commit) and balance reads (coalescing): items per batch is
        // requests / batches.
        let writes = services.ledger.groupCommitStatistics
        let reads = services.ledger.balanceReadStatistics
        for (name, help, value) in [
            ("recharge_group_commit_batches_total", "Write transactions run by the group-commit writer.", writes.batches),
            ("recharge_group_commit_requests_total", "Top-ups and debits applied through those transactions.", writes.requests),
            ("recharge_group_commit_retried_one_by_one_total", "Batches whose transaction failed and were retried one request at a time.", writes.retriedOneByOne),
            ("recharge_group_commit_busy_microseconds_total", "Wall time the writer spent applying batches.", Int(writes.busyMicroseconds)),
            ("recharge_balance_queries_total", "Coalesced balance queries run.", reads.queries),
            ("recharge_balance_inquiries_total", "Balance inquiries those queries answered.", reads.inquiries),
            ("recharge_db_deadlocks_retried_total", "Transactions PostgreSQL aborted to break a deadlock, then retried (zero when every path keeps the lock order).", services.database.retryStatistics.deadlocks),
            ("recharge_db_serialization_failures_retried_total", "Transactions PostgreSQL aborted with a serialization failure, then retried.", services.database.retryStatistics.serializationFailures),
        ] {
            buffer.append(contentsOf: Array("# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n".utf8))
        }
        return MetricsText(bytes: buffer)
    }

    @Sendable func openAPI(_ request: Request, context: RechargeRequestContext) async throws -> OpenAPIReply {
        OpenAPIReply()
    }
}

/// `/healthz`: `200` while the database answers; otherwise `503` with `Retry-After: 1`, which load balancers and
/// the clients' retry loops read as "try this instance again shortly".
enum HealthReply: ResponseGenerator {
    case ok
    case databaseUnreachable
    /// A node that started while its database was down and has not prepared it yet (``StartupGate``).
    case starting

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .ok:
            return try JSONResponse.make(["status": "ok", "database": "ok"])
        case .databaseUnreachable:
            return try Self.unavailable(status: "unavailable")
        case .starting:
            return try Self.unavailable(status: "starting")
        }
    }

    private static func unavailable(status: String) throws -> Response {
        var response = try JSONResponse.make(["status": status, "database": "unreachable"], status: .serviceUnavailable)
        response.headers[.retryAfter] = "1"
        return response
    }
}

/// `/metrics`: the Prometheus text exposition format, version 0.0.4 (the content type scrapers negotiate on).
struct MetricsText: ResponseGenerator {
    let bytes: [UInt8]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// `/openapi.json`: the shipped document as it is, byte for byte.
struct OpenAPIReply: ResponseGenerator {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
    }
}

/// The OpenAPI 3.1 description of the API, shipped as a resource and read once.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else { return Array("{}".utf8) }
        return Array(data)
    }()
}
