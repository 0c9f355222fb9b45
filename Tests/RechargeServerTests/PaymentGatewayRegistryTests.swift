import AsyncHTTPClient
import Crypto
import Foundation
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore
import RechargeTestSupport
import Testing
import _CryptoExtras

/// Every adapter of the registry, driven the same way through ``PaymentGateway`` and ``OrderService``: a
/// forged notification changes nothing, a verified one fulfils the order once (the same one again changes
/// nothing), and a refund goes to the provider and back. The providers are the SDK-built stand-ins
/// (scripts/peers) and a recorder standing in for Stripe; bank transfer, paid by statement import, refuses every
/// notification and refunds nothing.
@Suite("Every payment adapter in the registry", .enabled(if: PaymentPeer.isAvailable,
       "RECHARGE_TEST_PEERS_PYTHON is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for the gateway peers"))
struct PaymentGatewayRegistryTests {
    static let merchant = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let provider = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let stranger = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let stripeSecret = "whsec_registry"
    static let apiV3Key = "0123456789abcdefghijklmnopqrstuv"
    static let cny = try! Currency(code: "CNY")

    /// How the test drives one adapter.
    struct Drive: Sendable {
        let gateway: any PaymentGateway
        let currency: Currency
        /// The provider's reference for an order whose checkout the test does not start at the provider.
        var reference: (@Sendable (RechargeOrder) -> String)?
        /// Makes the payment happen at the provider and returns its genuine notification; nil: none exists.
        let pay: @Sendable (RechargeOrder) async throws -> PaymentNotification?
        let forge: @Sendable (RechargeOrder) async throws -> PaymentNotification
        /// Before the refund: what the provider stand-in answers to it.
        var beforeRefund: @Sendable (RechargeOrder) async throws -> Void = { _ in }
    }

    /// Sends refunds through the registry, as the server's PaymentProviders does.
    struct Refunder: OrderRefunder {
        let registry: PaymentGatewayRegistry
        func checkRefundable(_ order: RechargeOrder) throws {}
        func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
            try await #require(registry.gateway(for: order)).refund(refund, order: order)
        }
    }

    @Test func everyAdapterFulfilsOnceRefusesForgeriesAndRefunds() async throws {
        let stripeRecorder = try await HTTPRecorder.start(responseBody: Data("{}".utf8))
        let alipayPeer = try await GatewayPeer.start(
            script: "alipay_gateway.py",
            arguments: ["--app-id", "2021000000000001", "--merchant-public-key", "@merchant.pub", "--alipay-private-key", "@alipay.pem"],
            files: ["merchant.pub": GatewayPeer.pem(Self.merchant.publicKey), "alipay.pem": GatewayPeer.pem(Self.provider)])
        let wechatPeer = try await GatewayPeer.start(
            script: "wechat_gateway.py",
            arguments: ["--mchid", "1900000001", "--merchant-serial", "MERCHANT01", "--merchant-public-key", "@merchant.pub",
                        "--platform-private-key", "@platform.pem", "--platform-serial", "PLATFORM01"],
            files: ["merchant.pub": GatewayPeer.pem(Self.merchant.publicKey), "platform.pem": GatewayPeer.pem(Self.provider)])
        let paypalPeer = try await GatewayPeer.start(script: "paypal_gateway.py",
                                                     arguments: ["--client-id", "AcLIENT", "--client-secret", "s3cret", "--webhook-id", "WH-REG"], files: [:])
        defer { Task { await alipayPeer.stop(); await wechatPeer.stop(); await paypalPeer.stop() } }

        let drives = [
            Self.sandbox(), try Self.stripe(stripeRecorder, hosted: false), try Self.stripe(stripeRecorder, hosted: true),
            Self.paypal(paypalPeer), try Self.alipay(alipayPeer), try Self.wechat(wechatPeer), Self.bank(),
        ]
        let registry = PaymentGatewayRegistry(drives.map(\.gateway))
        #expect(Set(registry.gateways.map(\.name)).count == drives.count)
        #expect(Set(registry.gateways.map(\.method)) == Set(PaymentMethod.allCases))
        for drive in drives {
            #expect(!drive.gateway.settings.isEmpty, "\(drive.gateway.name) declares no settings")
            try await Self.exercise(drive, registry: registry)
        }
    }

    static func exercise(_ drive: Drive, registry: PaymentGatewayRegistry) async throws {
        let gateway = drive.gateway
        try await TestDatabase.with(.sqlite) { database in
            let catalog = CatalogStore(database: database)
            _ = try await catalog.importCatalog(try Catalog(CatalogDefinition(
                customTopUp: ["USD": .init(min: "1", max: "500"), "CNY": .init(min: "1", max: "3000")], products: [])), now: Date())
            let ledger = LedgerStore(database: database)
            let msisdn = try MSISDN("+14155550100")
            _ = try await ledger.openLine(try OpenLineCommand(msisdn: msisdn, iccid: nil, type: .prepaid, currency: drive.currency, creditLimit: nil,
                                                              subscriber: nil), now: Date())
            let service = OrderService(store: OrderStore(database: database, catalog: catalog))
            func balance() async throws -> Int64 { try await ledger.balance(msisdn, at: Date()).totals.first { $0.kind == .monetary }?.remaining ?? 0 }
            var local: (@Sendable (String) -> String?)?
            if gateway.capabilities.contains(.localReference) { local = { id in gateway.localReference(forOrder: id) } }
            var order = try await service.create(msisdn: msisdn, item: .amount(Money(micros: 100_000_000, currency: drive.currency)),
                                                 paymentMethod: gateway.method, promotionCode: nil, payCurrency: nil, key: try IdempotencyKey("reg-1"),
                                                 lifetime: gateway.paymentWindow, localReference: local).order
            if order.state == .created {
                let reference: String?
                if let made = drive.reference { reference = made(order) } else {
                    switch try await gateway.startCheckout(order, chinese: false) {
                    case .redirect(_, let made): reference = made
                    case .clientSecret(_, let made), .qrCode(_, let made), .bankTransfer(let made, _, _, _): reference = made
                    }
                }
                order = try await service.startCheckout(order.id, providerReference: reference)
            }
            #expect(order.state == .awaitingPayment, "\(gateway.name)")

            // Forged: refused, nothing changes.
            let forged = try await drive.forge(order)
            await #expect(throws: RechargeError.self, "\(gateway.name) took a forged notification") { _ = try await gateway.interpret(forged, now: Date()) }
            let untouched = try await service.order(order.id).state
            let before = try await balance()
            #expect(untouched == .awaitingPayment && before == 0, "\(gateway.name)")

            // Genuine: fulfils once.
            guard let genuine = try await drive.pay(order) else {
                #expect(!gateway.capabilities.contains(.refund), "\(gateway.name) has no notification to test")
                return
            }
            for attempt in 1...2 {
                guard case .confirmation(let confirmation) = try await gateway.interpret(genuine, now: Date()) else {
                    Issue.record("\(gateway.name): a genuine notification is no confirmation")
                    return
                }
                let outcome = try await service.confirm(confirmation)
                #expect(outcome.order.state == .fulfilled && outcome.fulfilledNow == (attempt == 1), "\(gateway.name), attempt \(attempt)")
                let credited = try await balance()
                #expect(credited == 100_000_000, "\(gateway.name)")
            }

            // The refund goes to the provider and comes back done.
            guard gateway.capabilities.contains(.refund) else { return }
            let paid = try await service.order(order.id)
            try await drive.beforeRefund(paid)
            let refunded = try await service.refund(orderID: order.id, amount: nil, reason: "registry test", key: try IdempotencyKey("reg-refund"),
                                                    through: Refunder(registry: registry))
            #expect(refunded.refund.state == .succeeded && refunded.refund.providerReference?.isEmpty == false, "\(gateway.name)")
            let closed = try await service.order(order.id).state
            let after = try await balance()
            #expect(closed == .refunded && after == 0, "\(gateway.name)")
            #expect(try await LedgerAudit(database: database).run().isBalanced)
        }
    }
}
