import Crypto
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
import _CryptoExtras

/// Alipay and WeChat Pay notifications through their HTTP routes, for an order of a CNY line: signed the way
/// the providers sign them (the signing schemes are held to the providers' SDKs in RechargePaymentsTests).
@Suite("Alipay and WeChat Pay notifications")
struct WalletNotificationTests {
    static let alipayKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let platformKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let apiV3Key = "0123456789abcdefghijklmnopqrstuv"
    static let cny = try! Currency(code: "CNY")

    static func payments() throws -> PaymentProviders {
        PaymentProviders(
            sandbox: nil,
            alipay: try AlipayGateway(appID: "2021000000000001", sellerID: "2088000000000001", alipayPublicKey: alipayKey.publicKey.pemRepresentation),
            wechatPay: try WeChatPayGateway(mchID: "1900000109", appID: "wxd678efh567hg6787",
                                            platformKeys: ["5157F09E": platformKey.publicKey.pemRepresentation], apiV3Key: apiV3Key))
    }

    static func cnyOrder(_ api: APIHarness, method: PaymentMethod, key: String) async throws -> RechargeOrder {
        let msisdn = try MSISDN("+8613800138000")
        if try await api.send(.get, "/v1/lines/+8613800138000", key: api.reader).status == .notFound {
            #expect(try await api.openLine("+8613800138000", extra: #", "currency": "CNY""#).status == .created)
        }
        return try await api.services.orders.create(msisdn: msisdn, item: .amount(Money(micros: 100_000_000, currency: cny)), paymentMethod: method,
                                                    key: try IdempotencyKey(key), now: APIHarness.now, checkout: { _ in nil }).order
    }

    static let catalog = #"{"customTopUp": {"CNY": {"min": "30", "max": "3000"}}, "products": []}"#

    func alipayBody(_ parameters: [String: String], signWith key: _RSA.Signing.PrivateKey = alipayKey) throws -> String {
        let signer = AlipayRequestSigner(appID: "2021000000000001", merchantPrivateKey: key)
        var all = parameters
        all["sign"] = try signer.sign(parameters)
        all["sign_type"] = "RSA2"
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._*")
        return all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    /// `date` as Alipay writes times: "yyyy-MM-dd HH:mm:ss" in Beijing time.
    static func beijing(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3600)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// A genuine, signed notification is refused once its `notify_time` is older than the window (25 h by
    /// default: Alipay's whole retry schedule), or from the future, or without one; within it, it pays.
    @Test(arguments: [AlipayGateway.defaultNotifyMaxAge, 3600])
    func alipayRefusesNotificationsOutsideTheWindow(_ window: TimeInterval) async throws {
        let payments = PaymentProviders(
            sandbox: nil,
            alipay: try AlipayGateway(appID: "2021000000000001", sellerID: nil, alipayPublicKey: Self.alipayKey.publicKey.pemRepresentation,
                                      notifyMaxAge: window))
        try await APIHarness.run(payments: payments) { api in
            #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: Self.catalog).status == .ok)
            let order = try await Self.cnyOrder(api, method: .alipay, key: "ali-window")
            func notification(sent: Date?, id: String) throws -> String {
                var parameters = [
                    "app_id": "2021000000000001", "out_trade_no": order.id, "trade_no": "2026112822001400000000000009", "trade_status": "TRADE_SUCCESS",
                    "total_amount": "100.00", "notify_id": id, "notify_type": "trade_status_sync", "charset": "utf-8",
                ]
                parameters["notify_time"] = sent.map(Self.beijing)
                return try alipayBody(parameters)
            }
            func post(_ body: String) async throws -> String {
                String(buffer: try await api.client.execute(uri: "/webhooks/alipay", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                            body: ByteBuffer(string: body)).body)
            }
            let now = APIHarness.now
            #expect(try await post(try notification(sent: now.addingTimeInterval(-window - 1), id: "old")) == "fail")
            #expect(try await post(try notification(sent: now.addingTimeInterval(600), id: "future")) == "fail")
            #expect(try await post(try notification(sent: nil, id: "undated")) == "fail")
            #expect(try await api.services.orders.order(order.id).state != .fulfilled)
            #expect(try await post(try notification(sent: now.addingTimeInterval(-window + 60), id: "late-retry")) == "success")
            #expect(try await api.services.orders.order(order.id).state == .fulfilled)
        }
    }

    @Test func alipayWindowSetting() throws {
        #expect(try AlipayGateway.notifyMaxAge(setting: nil) == 25 * 3600)
        #expect(try AlipayGateway.notifyMaxAge(setting: "3600") == 3600)
        for refused in ["0", "299", "604801", "1h", "-5"] {
            #expect(throws: RechargeError.self, "\(refused)") { _ = try AlipayGateway.notifyMaxAge(setting: refused) }
        }
    }

    @Test func alipayNotifyPaysOnceAndAnswersSuccess() async throws {
        try await APIHarness.run(payments: try Self.payments()) { api in
            #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: Self.catalog).status == .ok)
            let order = try await Self.cnyOrder(api, method: .alipay, key: "ali-1")
            let parameters = [
                "app_id": "2021000000000001", "seller_id": "2088000000000001", "out_trade_no": order.id, "trade_no": "2026112822001400000000000001",
                "trade_status": "TRADE_SUCCESS", "total_amount": "100.00", "notify_id": "ac05099524730693a8b330c5ecf72da9786",
                "notify_type": "trade_status_sync", "gmt_payment": "2026-11-28 10:00:00", "subject": "话费充值 +8613800138000", "charset": "utf-8",
                "notify_time": Self.beijing(APIHarness.now.addingTimeInterval(-120)),
            ]
            func post(_ body: String) async throws -> TestResponse {
                try await api.client.execute(uri: "/webhooks/alipay", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                             body: ByteBuffer(string: body))
            }
            // Signed by someone else, or for another merchant, or for less: "fail", nothing applied.
            #expect(String(buffer: try await post(try alipayBody(parameters, signWith: Self.platformKey)).body) == "fail")
            var other = parameters
            other["seller_id"] = "2088999999999999"
            #expect(String(buffer: try await post(try alipayBody(other)).body) == "fail")
            var short = parameters
            short["total_amount"] = "99.99"
            short["notify_id"] = "short"
            #expect(String(buffer: try await post(try alipayBody(short)).body) == "fail")
            let genuine = try alipayBody(parameters)
            let first = try await post(genuine)
            #expect(first.status == .ok && String(buffer: first.body) == "success")
            #expect(String(buffer: try await post(genuine).body) == "success")   // retried by Alipay: acknowledged again
            #expect(try await api.services.orders.order(order.id).state == .fulfilled)
            let balance = try api.json(try await api.send(.get, "/v1/lines/+8613800138000/balance", key: api.reader))
            #expect((balance["totals"] as? [[String: Any]])?.first?["remainingValue"] as? String == "100.00")
        }
    }

    func wechatNotification(orderID: String, total: Int64, timestamp: Int64, signWith key: _RSA.Signing.PrivateKey = platformKey) throws -> (Data, HTTPFields) {
        let transaction = #"{"mchid":"1900000109","appid":"wxd678efh567hg6787","out_trade_no":"\#(orderID)","transaction_id":"4200000000202611280000000001","trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC","success_time":"2026-11-28T09:29:58+08:00","payer":{"openid":"o1"},"amount":{"total":\#(total),"payer_total":\#(total),"currency":"CNY","payer_currency":"CNY"}}"#
        let sealed = try AES.GCM.seal(Data(transaction.utf8), using: SymmetricKey(data: Data(Self.apiV3Key.utf8)),
                                      nonce: try AES.GCM.Nonce(data: Data("fdasflkja484".utf8)), authenticating: Data("transaction".utf8))
        let body = Data(#"{"id":"EV-\#(orderID)-\#(total)","create_time":"2026-11-28T09:30:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"\#((sealed.ciphertext + sealed.tag).base64EncodedString())","associated_data":"transaction","nonce":"fdasflkja484"}}"#.utf8)
        var message = Data("\(timestamp)\nNONCE42\n".utf8)
        message.append(body)
        message.append(UInt8(ascii: "\n"))
        let signature = try key.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
        let headers: HTTPFields = [
            .contentType: "application/json", HTTPField.Name("Wechatpay-Timestamp")!: String(timestamp), HTTPField.Name("Wechatpay-Nonce")!: "NONCE42",
            HTTPField.Name("Wechatpay-Signature")!: signature, HTTPField.Name("Wechatpay-Serial")!: "5157F09E",
        ]
        return (body, headers)
    }

    @Test func wechatPayNotificationPaysOnce() async throws {
        try await APIHarness.run(payments: try Self.payments()) { api in
            #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: Self.catalog).status == .ok)
            let order = try await Self.cnyOrder(api, method: .wechatPay, key: "wx-1")
            let now = Int64(APIHarness.now.timeIntervalSince1970)
            func post(_ notification: (Data, HTTPFields)) async throws -> TestResponse {
                try await api.client.execute(uri: "/webhooks/wechat_pay", method: .post, headers: notification.1, body: ByteBuffer(data: notification.0))
            }
            let forged = try await post(try wechatNotification(orderID: order.id, total: 10000, timestamp: now, signWith: Self.alipayKey))
            #expect(forged.status == .badRequest && String(buffer: forged.body).contains("FAIL"))
            #expect(try await post(try wechatNotification(orderID: order.id, total: 10000, timestamp: now - 600)).status == .badRequest)
            #expect(try await post(try wechatNotification(orderID: order.id, total: 9999, timestamp: now)).status == .unprocessableContent)
            let genuine = try wechatNotification(orderID: order.id, total: 10000, timestamp: now)
            #expect(try await post(genuine).status == .noContent)
            #expect(try await post(genuine).status == .noContent)
            #expect(try await api.services.orders.order(order.id).state == .fulfilled)
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)
        }
    }
}
