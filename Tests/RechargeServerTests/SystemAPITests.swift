import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import RechargeCore
@testable import RechargeServer
import RechargeTestSupport
import Testing

@Suite("System routes")
struct SystemAPITests {
    @Test func healthz() async throws {
        try await APIHarness.run { api in
            let response = try await api.send(.get, "/healthz", key: nil)
            #expect(response.status == .ok)
            #expect(try api.json(response)["status"] as? String == "ok")
        }
    }

    /// A node that started while its database was down: 503 with Retry-After everywhere but /metrics and
    /// /openapi.json, until the database is prepared; then it serves.
    @Test func startupGateAnswers503UntilTheDatabaseIsReady() async throws {
        let gate = StartupGate(ready: false)
        try await APIHarness.run(startup: gate) { api in
            let health = try await api.send(.get, "/healthz", key: nil)
            #expect(health.status == .serviceUnavailable && health.headers[.retryAfter] == "1")
            #expect(try api.json(health)["status"] as? String == "starting")
            let balance = try await api.send(.get, "/v1/lines/+14155550100/balance", key: api.reader)
            try api.expectProblem(balance, .serviceUnavailable, "database-unavailable")
            #expect(balance.headers[.retryAfter] == "1")
            // Nothing is applied meanwhile.
            try api.expectProblem(try await api.topUp("+14155550100", "5", key: "gated"), .serviceUnavailable, "database-unavailable")
            try api.expectProblem(try await api.send(.get, "/", key: nil), .serviceUnavailable, "database-unavailable")
            #expect(try await api.send(.get, "/openapi.json", key: nil).status == .ok)
            #expect(try await api.send(.get, "/metrics", key: nil).status == .ok)
            let waiter = Task { await gate.waitUntilReady() }
            gate.open()
            await waiter.value
            #expect(try await api.send(.get, "/healthz", key: nil).status == .ok)
            #expect(try await api.openLine().status == .created)
        }
    }

    @Test func metricsCountRequestsByRouteTemplate() async throws {
        try await APIHarness.run { api in
            _ = try await api.openLine()
            _ = try await api.send(.get, "/v1/lines/+14155550100", key: api.reader)
            _ = try await api.send(.get, "/v1/lines/+14155550100", key: nil)
            let text = String(buffer: try await api.send(.get, "/metrics", key: nil).body)
            #expect(text.contains(#"http_requests_total{method="GET",route="/v1/lines/{msisdn}",status="200"} 1"#))
            #expect(text.contains(#"http_requests_total{method="GET",route="/v1/lines/{msisdn}",status="401"} 1"#))
            #expect(text.contains(#"http_requests_total{method="POST",route="/v1/lines",status="201"} 1"#))
            #expect(text.contains("http_request_duration_seconds_bucket"))
            #expect(!text.contains("+14155550100"))
        }
    }

    /// The OpenAPI document describes exactly the routes the router serves.
    @Test func openAPIDocumentDescribesEveryRoute() async throws {
        try await APIHarness.run { api in
            let response = try await api.send(.get, "/openapi.json", key: nil)
            #expect(response.status == .ok)
            let document = try api.json(response)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented = Set<String>()
            for (path, item) in paths {
                for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                    documented.insert("\(method.uppercased()) \(path)")
                }
            }
            // The portal's HTML pages are for browsers, not API clients: docs/portal.md lists them instead.
            let portal = Router(context: RechargeRequestContext.self)
            PortalController(services: api.services, resources: try PortalResources.bundled(), configuration: PortalConfiguration(bcryptCost: 4),
                             logger: Logger(label: "test")).addRoutes(to: portal)
            let pages = Set(portal.routes.map { "\($0.method) \($0.path)" })
            #expect(pages.count > 30)
            let served = Set(buildRouter(api.services).routes.map { "\($0.method) \($0.path)" })
            #expect(served.subtracting(pages) == documented)
            // The currencies the document lists are the ones the core accepts.
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            let currency = try #require((schemas["MoneyInput"]?["properties"] as? [String: [String: Any]])?["currency"])
            #expect(Set(currency["enum"] as? [String] ?? []) == Set(Currency.known.keys))
        }
    }

    @Test func knownPathWithAnotherMethodIs405() async throws {
        try await APIHarness.run { api in
            let response = try await api.send(.delete, "/v1/lines/+14155550100", key: api.admin)
            try api.expectProblem(response, .methodNotAllowed, "method-not-allowed")
            #expect(response.headers[.allow] == "GET, PATCH")
            try api.expectProblem(try await api.send(.put, "/healthz", key: nil), .methodNotAllowed, "method-not-allowed")
            try api.expectProblem(try await api.send(.get, "/v1/lines/+14155550100/nothing", key: api.admin), .notFound, "not-found")
        }
    }
}
