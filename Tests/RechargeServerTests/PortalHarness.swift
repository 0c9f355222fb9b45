import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import RechargeCore
import RechargePayments
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// A visitor of the portal driven without a socket: keeps its cookies like a browser, reads the CSRF token of
/// the last page, and follows nothing by itself (tests look at each redirect). Each visitor comes from an address
/// of its own (random in 10.0.0.0/8 unless given), which the harness's trusted proxy (the in-process peer, 127.0.0.1)
/// passes on in `X-Forwarded-For`.
final class PortalVisitor: Sendable {
    let client: any TestClientProtocol
    let address: String
    private let state = NIOLockedValueBox<(cookies: [String: String], csrf: String, language: String?)>(([:], "", nil))

    init(client: any TestClientProtocol, acceptLanguage: String? = nil, address: String? = nil) {
        self.client = client
        self.address = address ?? "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
        state.withLockedValue { $0.language = acceptLanguage }
    }

    var cookies: [String: String] { state.withLockedValue { $0.cookies } }
    var csrf: String { state.withLockedValue { $0.csrf } }

    func setCookie(_ name: String, _ value: String?) {
        state.withLockedValue { $0.cookies[name] = value }
    }

    @discardableResult
    func get(_ uri: String) async throws -> TestResponse {
        try await send(.get, uri, body: nil)
    }

    /// Posts a form; the page's CSRF token is added unless `csrf` says otherwise ("" sends none).
    @discardableResult
    func post(_ uri: String, _ fields: [String: String], csrf: String? = nil) async throws -> TestResponse {
        var fields = fields
        let token = csrf ?? self.csrf
        if !token.isEmpty { fields["csrf"] = token }
        let body = fields.map { "\(PortalForm.encode($0.key))=\(PortalForm.encode($0.value).replacingOccurrences(of: "+", with: "%2B"))" }.joined(separator: "&")
        return try await send(.post, uri, body: body)
    }

    private func send(_ method: HTTPRequest.Method, _ uri: String, body: String?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        let (cookies, language) = state.withLockedValue { ($0.cookies, $0.language) }
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if let language { headers[.acceptLanguage] = language }
        headers[HTTPField.Name("X-Forwarded-For")!] = address
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        state.withLockedValue { state in
            for header in response.headers[values: .setCookie] {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(pair[0])
                let value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || header.lowercased().contains("max-age=0") { state.cookies[name] = nil } else { state.cookies[name] = value }
            }
            let html = String(buffer: response.body)
            if let range = html.range(of: #"name="csrf" value=""#) {
                state.csrf = String(html[range.upperBound...].prefix { $0 != "\"" })
            }
        }
        return response
    }

    /// The value of `Set-Cookie` for `name` in `response`, whole (with its attributes).
    static func setCookie(_ name: String, in response: TestResponse) -> String? {
        response.headers[values: .setCookie].first { $0.hasPrefix(name + "=") }
    }
}

/// The portal on a fresh database (SQLite by default), with the demo line +14155550100 (25.00 USD), the demo
/// catalog, vouchers on and a fast bcrypt.
struct PortalHarness {
    let client: any TestClientProtocol
    let services: RechargeServices
    let admin: String

    static let now = TestDatabase.epoch
    static let voucherKey = try! VoucherKey(id: "portal1", secret: Array(repeating: UInt8(7), count: 32))

    /// The harness's portal settings: fast bcrypt, and the in-process peer (no socket: 127.0.0.1) trusted as a proxy
    /// so each ``PortalVisitor``'s `X-Forwarded-For` is its client address.
    static func configuration(_ change: (inout PortalConfiguration) -> Void = { _ in }) -> PortalConfiguration {
        var portal = PortalConfiguration(secureCookies: true, bcryptCost: 4, logCodes: false,
                                         clientAddresses: ClientAddressRule(trustedProxies: [IPAddressRange("127.0.0.1")!]))
        change(&portal)
        return portal
    }

    /// `payments`: the sandbox is turned on explicitly (a production start offers none), so the pages can be paid.
    static func run(_ engine: Backend = .sqlite, portal: PortalConfiguration = configuration(),
                    payments: PaymentProviders = PaymentProviders(sandbox: SandboxGateway()), clock: @escaping @Sendable () -> Date = { now },
                    _ body: @escaping @Sendable (PortalHarness) async throws -> Void) async throws {
        try await TestDatabase.with(engine) { database in
            let services = RechargeServices(database: database, apiKeyCacheLifetime: .zero, clock: clock, payments: payments, voucherKey: voucherKey,
                                            portal: portal)
            let admin = try await services.apiKeys.create(name: "admin", scope: .admin, now: now).secret
            _ = try await DemoData.seed(services.ledger, now: now)
            _ = try await services.catalog.importCatalog(try CatalogFile.parse(try CatalogFile.demoText()), now: now)
            let app = buildApplication(ServerConfiguration(), services: services)
            try await app.test(.router) { client in
                try await body(PortalHarness(client: client, services: services, admin: admin))
            }
        }
    }

    func visitor(acceptLanguage: String? = nil, address: String? = nil) -> PortalVisitor {
        PortalVisitor(client: client, acceptLanguage: acceptLanguage, address: address)
    }

    /// One-time codes queued in the outbox (to anyone; the newest 1,000 messages).
    func codesQueued() async throws -> Int {
        try await services.outbox.list(state: nil, limit: 1000).filter { if case .oneTimeCode? = $0.event { return true } else { return false } }.count
    }

    /// Login failure rows (per number and client, per number), counted by sweeping them all a year on.
    func loginFailureRows() async throws -> Int {
        try await services.accounts.sweep(now: Self.now.addingTimeInterval(365 * 86_400)).loginCounts
    }

    /// The value of a counter in the metrics registry (0 when it was never made).
    func metric(_ line: String) -> Int {
        var buffer: [UInt8] = []
        services.metrics.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        for row in text.split(separator: "\n") where row.hasPrefix(line + " ") {
            return Int(Double(row.dropFirst(line.count + 1)) ?? -1)
        }
        return 0
    }

    /// The newest one-time code sent to `recipient`, read from the outbox and opened as the delivery service does
    /// (the outbox keeps it sealed).
    func code(to recipient: String) async throws -> String? {
        let messages = try await services.outbox.list(state: nil, limit: 200)
        for message in messages where message.recipient == recipient {
            if let event = message.event, case .oneTimeCode(let code, _) = try await services.outbox.deliverable(event) { return code }
        }
        return nil
    }

    /// Registers `phone` with `password` through the pages and logs in; returns the signed-in visitor.
    func signUp(_ phone: String, password: String = "correct horse 1", language: String? = nil) async throws -> PortalVisitor {
        let visitor = visitor(acceptLanguage: language)
        try await visitor.get("/register")
        let sent = try await visitor.post("/register", ["phone": phone])
        #expect(sent.status == .seeOther)
        let code = try #require(try await code(to: phone))
        let verified = try await visitor.post("/register/verify", ["phone": phone, "code": code, "password": password])
        #expect(verified.status == .seeOther, "\(String(buffer: verified.body))")
        try await visitor.get("/login")
        let login = try await visitor.post("/login", ["phone": phone, "password": password])
        #expect(login.status == .seeOther)
        #expect(login.headers[.location] == "/dashboard")
        return visitor
    }

    /// Five 10.00 USD cards, exported, received and activated; their PINs in serial order.
    func voucherPINs(count: Int64 = 5) async throws -> [String] {
        try await voucherCards(count: count).map(\.pin)
    }

    /// The same cards as printed: card number (serial) and PIN, in serial order.
    func voucherCards(count: Int64 = 5) async throws -> [(serial: String, pin: String)] {
        let vouchers = try #require(services.vouchers)
        let now = Self.now
        let batch = try await vouchers.createBatch(
            try VoucherBatchRequest(denomination: .money(Money(micros: 10_000_000, currency: .usd)), count: count,
                                    expiresAt: now.addingTimeInterval(86_400 * 30), createdBy: "ops", now: now), now: now)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("portal-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try await vouchers.export(batch: batch.id, to: path, actor: "ops", now: now)
        let cards = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: ",")
            return (serial: String(fields[0]), pin: String(fields[1]))
        }
        _ = try await vouchers.receive(batch: batch.id, actor: "ops", now: now)
        _ = try await vouchers.activate(batch: batch.id, range: try VoucherSerialRange(first: batch.serials.first, last: batch.serials.last), actor: "ops", now: now)
        return cards
    }
}

extension TestResponse {
    var html: String { String(buffer: body) }
}
