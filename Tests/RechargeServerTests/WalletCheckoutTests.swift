import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import RechargeCore
import RechargePayments
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing
import _CryptoExtras

/// A USD line paid in CNY through Alipay and through WeChat Pay, end to end against the gateway stand-ins built
/// from the providers' SDKs (scripts/peers/alipay_gateway.py, wechat_gateway.py): the order asks the gateway for
/// a QR code, the payer pays (the peer's test hook), the reconciliation job's status query fulfils the order.
@Suite("Alipay and WeChat Pay checkout (SDK-built gateways)", .enabled(if: PaymentPeer.isAvailable,
       "RECHARGE_TEST_PEERS_PYTHON is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for the gateway peers"))
struct WalletCheckoutTests {
    static let merchant = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let provider = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let catalog = """
        {"fxRates": [{"base": "USD", "quote": "CNY", "rate": "7.2345", "source": "test desk", "validMinutes": 15}],
         "products": [{"code": "topup-10", "kind": "top_up", "names": {"en": "$10 credit", "zh-Hans": "10美元话费"},
                       "prices": {"USD": "10.00"}, "credit": {"USD": "10.00"}}]}
        """

    func run(_ method: PaymentMethod, payments: PaymentProviders, gateway: GatewayPeer) async throws {
        // Real time: the order's expiry goes to the gateway as `time_expire`, which the stand-ins check against their clock.
        // One clock for the API and the reconciliation job, moved on 2 minutes before the job runs (it asks only about
        // trades waiting more than a minute), so the balance is read at the same instant the job fulfilled the order.
        let clock = NIOLockedValueBox(Date())
        try await APIHarness.run(payments: payments, clock: { clock.withLockedValue { $0 } }) { api in
            #expect(try await api.openLine().status == .created)
            #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: Self.catalog).status == .ok)
            let created = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "\(method.rawValue)-1",
                                             json: #"{"product": "topup-10", "paymentMethod": "\#(method.rawValue)"}"#)
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let order = try api.json(created)
            let id = try #require(order["id"] as? String)
            // Priced in CNY at the rate (10 × 7.2345 = 72.345, rounded up once), the rate kept on the order.
            #expect((order["price"] as? [String: Any])?["value"] as? String == "72.35")
            #expect((order["fx"] as? [String: Any])?["source"] as? String == "test desk")
            let checkout = try #require(order["checkout"] as? [String: Any])
            #expect(checkout["type"] as? String == "qr_code")
            #expect((checkout["qrCode"] as? String)?.isEmpty == false)

            clock.withLockedValue { $0 = $0.addingTimeInterval(120) }
            let job = OrderReconciliationService(orders: api.services.orders, payments: payments,
                                                 clock: { clock.withLockedValue { $0 } }, logger: Logger(label: "test"))
            await job.runOnce()
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["state"] as? String == "awaiting_payment")
            try await gateway.hook("/_test/pay?out_trade_no=\(id)")
            await job.runOnce()
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["state"] as? String == "fulfilled")
            #expect(try await api.mainBalance() == "10.00")
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)
        }
    }

    /// The stand-in for `method` and the providers with only that wallet configured (also the portal's wallet tests').
    static func standIn(_ method: PaymentMethod) async throws -> (GatewayPeer, PaymentProviders) {
        switch method {
        case .alipay:
            let gateway = try await GatewayPeer.start(
                script: "alipay_gateway.py",
                arguments: ["--app-id", "2021000000000001", "--merchant-public-key", "@merchant.pub", "--alipay-private-key", "@alipay.pem"],
                files: ["merchant.pub": GatewayPeer.pem(merchant.publicKey), "alipay.pem": GatewayPeer.pem(provider)])
            let client = AlipayClient(configuration: .init(
                appID: "2021000000000001", merchantPrivateKey: merchant, alipayPublicKey: provider.publicKey,
                notifyURL: "https://recharge.example/webhooks/alipay", gatewayURL: "\(gateway.url)/gateway.do", requestTimeout: .seconds(10)),
                httpClient: .shared)
            let alipay = try AlipayGateway(appID: "2021000000000001", sellerID: nil, alipayPublicKey: provider.publicKey.pemRepresentation, client: client)
            return (gateway, PaymentProviders(sandbox: nil, alipay: alipay))
        case .wechatPay:
            let gateway = try await GatewayPeer.start(
                script: "wechat_gateway.py",
                arguments: ["--mchid", "1900000001", "--merchant-serial", "MERCHANT01", "--merchant-public-key", "@merchant.pub",
                            "--platform-private-key", "@platform.pem", "--platform-serial", "PLATFORM01"],
                files: ["merchant.pub": GatewayPeer.pem(merchant.publicKey), "platform.pem": GatewayPeer.pem(provider)])
            let client = WeChatPayClient(configuration: .init(
                mchID: "1900000001", appID: "wxd678efh567hg6787", merchantSerialNo: "MERCHANT01", merchantPrivateKey: merchant,
                platformKeys: ["PLATFORM01": provider.publicKey], notifyURL: "https://recharge.example/webhooks/wechat_pay",
                baseURL: gateway.url, requestTimeout: .seconds(10)), httpClient: .shared)
            let wechat = try WeChatPayGateway(mchID: "1900000001", appID: "wxd678efh567hg6787",
                                              platformKeys: ["PLATFORM01": provider.publicKey.pemRepresentation],
                                              apiV3Key: "0123456789abcdefghijklmnopqrstuv", client: client)
            return (gateway, PaymentProviders(sandbox: nil, wechatPay: wechat))
        default:
            throw RechargeError.paymentMethodUnavailable(method.rawValue)
        }
    }

    @Test(arguments: [PaymentMethod.alipay, .wechatPay])
    func qrCodeOrder(_ method: PaymentMethod) async throws {
        let (gateway, payments) = try await Self.standIn(method)
        do {
            try await run(method, payments: payments, gateway: gateway)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }
}
