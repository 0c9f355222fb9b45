import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
import RechargePayments
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// An application on a fresh SQLite database, with one API key per scope, driven without a socket.
struct APIHarness {
    let client: any TestClientProtocol
    let services: RechargeServices
    let admin: String
    let writer: String
    let reader: String

    static let now = TestDatabase.epoch

    /// `clock` is the application's (the fixed test epoch unless a test needs real time, e.g. for a peer's
    /// certificates and signatures made now).
    static func run(payments: PaymentProviders = PaymentProviders(sandbox: SandboxGateway()), clock: @escaping @Sendable () -> Date = { now },
                    devPages: Bool = true, startup: StartupGate = StartupGate(),
                    _ body: @escaping @Sendable (APIHarness) async throws -> Void) async throws {
        try await TestDatabase.with(.sqlite) { database in
            let services = RechargeServices(database: database, apiKeyCacheLifetime: .zero, clock: clock, payments: payments, devPages: devPages,
                                            startup: startup)
            let admin = try await services.apiKeys.create(name: "admin", scope: .admin, now: now).secret
            let writer = try await services.apiKeys.create(name: "writer", scope: .write, now: now).secret
            let reader = try await services.apiKeys.create(name: "reader", scope: .read, now: now).secret
            let app = buildApplication(ServerConfiguration(), services: services)
            try await app.test(.router) { client in
                try await body(APIHarness(client: client, services: services, admin: admin, writer: writer, reader: reader))
            }
        }
    }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ uri: String, key: String?, idempotencyKey: String? = nil, json: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    func openLine(_ msisdn: String = "+14155550100", extra: String = "") async throws -> TestResponse {
        try await send(.post, "/v1/lines", key: admin, json: #"{"msisdn": "\#(msisdn)"\#(extra)}"#)
    }

    func topUp(_ msisdn: String = "+14155550100", _ value: String, key idempotencyKey: String, currency: String = "USD") async throws -> TestResponse {
        try await send(.post, "/v1/lines/\(msisdn)/topups", key: writer, idempotencyKey: idempotencyKey,
                       json: #"{"amount": {"currency": "\#(currency)", "value": "\#(value)"}, "channel": "card", "reference": "pi_\#(idempotencyKey)"}"#)
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body))
        return try #require(object as? [String: Any])
    }

    /// Asserts an RFC 9457 problem with this status and code.
    func expectProblem(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        let body = try json(response)
        #expect(body["code"] as? String == code, "\(body)", sourceLocation: sourceLocation)
        #expect(body["type"] as? String == "https://recharge.dev/problems/\(code)", sourceLocation: sourceLocation)
        #expect(body["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
        #expect((body["title"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        #expect((body["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    }

    func mainBalance(_ msisdn: String = "+14155550100") async throws -> String? {
        let body = try json(try await send(.get, "/v1/lines/\(msisdn)/balance", key: reader))
        let totals = body["totals"] as? [[String: Any]] ?? []
        return totals.first { $0["kind"] as? String == "monetary" }?["remainingValue"] as? String
    }
}
