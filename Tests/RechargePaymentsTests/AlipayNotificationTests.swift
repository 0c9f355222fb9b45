import Crypto
import Foundation
import RechargePayments
import Testing
import _CryptoExtras

/// Signs a notify body as Alipay's gateway does: `sign` and `sign_type` are left out of the signed string.
func alipayNotifyBody(_ parameters: [String: String], key: _RSA.Signing.PrivateKey = TestKeys.provider) throws -> Data {
    let message = Data(AlipayNotification.signingString(parameters, excluding: ["sign", "sign_type"]).utf8)
    let sign = try key.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
        .rawRepresentation.base64EncodedString()
    let pairs = parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    return Data(FormURLEncoding.encode(pairs + [("sign", sign), ("sign_type", "RSA2")]).utf8)
}

let alipayPaidParameters: [String: String] = [
    "notify_time": "2026-11-28 09:30:00", "notify_type": "trade_status_sync", "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": "2021000000000001", "charset": "utf-8", "version": "1.0", "trade_no": "2026112822001401234567890123",
    "out_trade_no": "R-7f3a", "trade_status": "TRADE_SUCCESS", "total_amount": "12.34", "receipt_amount": "12.34",
    "seller_id": "2088000000000001", "gmt_payment": "2026-11-28 09:29:58", "subject": "话费充值 +86 138 0013 8000",
    "body": "a&b=c 100% 充值", "fund_bill_list": #"[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]"#, "buyer_logon_id": "",
]

@Suite struct AlipayNotificationTests {
    let publicKey = TestKeys.provider.publicKey

    /// `notify_time` is Beijing time (UTC+8, no daylight saving): what the notification window is measured on.
    @Test func notifyTimeIsBeijingTime() throws {
        #expect(AlipayNotification.beijingTime("2026-11-28 09:30:00") == Date(timeIntervalSince1970: 1_795_829_400))   // 01:30:00Z
        #expect(AlipayNotification.beijingTime("1970-01-01 08:00:00") == Date(timeIntervalSince1970: 0))
        #expect(AlipayNotification.beijingTime("2028-02-29 23:59:59") == Date(timeIntervalSince1970: 1_835_452_799))
        for bad in ["2026-11-28T09:30:00", "2026-11-28 9:30:00", "2026-02-29 10:00:00", "2026-13-01 00:00:00", "2026-11-28 24:00:00", "", "yesterday"] {
            #expect(AlipayNotification.beijingTime(bad) == nil, "\(bad)")
        }
        let body = try alipayNotifyBody(alipayPaidParameters)
        #expect(try AlipayNotification.verify(body: body, alipayPublicKey: publicKey).notifyTime == "2026-11-28 09:30:00")
    }

    @Test func signedNotifyVerifiesAndExposesTypedFields() throws {
        let body = try alipayNotifyBody(alipayPaidParameters)
        let notification = try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        #expect(notification.outTradeNo == "R-7f3a")
        #expect(notification.tradeNo == "2026112822001401234567890123")
        #expect(notification.tradeStatus == "TRADE_SUCCESS")
        #expect(notification.isPaid)
        #expect(notification.totalAmountMinorUnits == 1234)
        #expect(notification.appID == "2021000000000001")
        #expect(notification.sellerID == "2088000000000001")
        #expect(notification.notifyID == "ac05099524730693a8b330c5ecf72da9786")
        #expect(notification.gmtPayment == "2026-11-28 09:29:58")
        #expect(notification.parameters["body"] == "a&b=c 100% 充值")
    }

    @Test func oneChangedBodyByteIsRejected() throws {
        var body = try alipayNotifyBody(alipayPaidParameters)
        let range = try #require(body.range(of: Data("total_amount=12.34".utf8)))
        body[range.upperBound - 1] = UInt8(ascii: "5")
        #expect(throws: PaymentProviderError.noMatchingSignature(.alipay)) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func addedParameterIsRejected() throws {
        var body = try alipayNotifyBody(alipayPaidParameters)
        body.append(contentsOf: "&refund_fee=12.34".utf8)
        #expect(throws: PaymentProviderError.noMatchingSignature(.alipay)) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func wrongKeyIsRejected() throws {
        let body = try alipayNotifyBody(alipayPaidParameters, key: TestKeys.stranger)
        #expect(throws: PaymentProviderError.noMatchingSignature(.alipay)) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func publicKeyLoadsFromPEMAndFromBareBase64() throws {
        let pem = publicKey.pemRepresentation
        let bare = publicKey.derRepresentation.base64EncodedString()
        let body = try alipayNotifyBody(alipayPaidParameters)
        for text in [pem, bare, "\n  \(bare)\n"] {
            let key = try ProviderRSAKey.publicKey(text, provider: .alipay)
            #expect(try AlipayNotification.verify(body: body, alipayPublicKey: key).totalAmountMinorUnits == 1234)
        }
        #expect(throws: PaymentProviderError.invalidKey(.alipay, reason: "neither PEM nor base64 DER")) {
            try ProviderRSAKey.publicKey("not a key!", provider: .alipay)
        }
    }

    @Test func missingSignIsRejected() {
        let body = Data(FormURLEncoding.encode(alipayPaidParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).utf8)
        #expect(throws: PaymentProviderError.missingField(.alipay, field: "sign")) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func rsa1IsRejected() throws {
        var body = try alipayNotifyBody(alipayPaidParameters)
        body = Data(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "sign_type=RSA2", with: "sign_type=RSA").utf8)
        #expect(throws: PaymentProviderError.unsupportedAlgorithm(.alipay, algorithm: "RSA")) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func malformedFormIsRejected() throws {
        for raw in ["a=%zz&sign=x", "a=%E5%85&sign=x", "a=1&a=2&sign=x", "=1&sign=x", "a=%4"] {
            #expect {
                try AlipayNotification.verify(body: Data(raw.utf8), alipayPublicKey: publicKey)
            } throws: { error in
                guard case .malformedBody(.alipay, _) = error as? PaymentProviderError else { return false }
                return true
            }
        }
    }

    @Test func signedButInexactAmountIsRejected() throws {
        var parameters = alipayPaidParameters
        parameters["total_amount"] = "12.345"
        let body = try alipayNotifyBody(parameters)
        #expect(throws: PaymentProviderError.invalidAmount(.alipay, field: "total_amount", value: "12.345")) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func signedButMissingTradeNoIsRejected() throws {
        var parameters = alipayPaidParameters
        parameters["trade_no"] = nil
        let body = try alipayNotifyBody(parameters)
        #expect(throws: PaymentProviderError.missingField(.alipay, field: "trade_no")) {
            try AlipayNotification.verify(body: body, alipayPublicKey: publicKey)
        }
    }

    @Test func signingStringSkipsSignSignTypeAndEmptyValues() {
        let string = AlipayNotification.signingString(
            ["b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": "", "c": "a b&c"], excluding: ["sign", "sign_type"])
        #expect(string == "a=1&b=2&c=a b&c")
    }
}

@Suite struct AlipayRequestSignerTests {
    let signer = AlipayRequestSigner(appID: "2021000000000001", merchantPrivateKey: TestKeys.merchant)
    let timestamp = Date(timeIntervalSince1970: 1_795_829_398)  // 2026-11-28 01:29:58 UTC

    @Test func requestParametersAreAlipaysCommonOnes() {
        let parameters = signer.parameters(
            method: .precreate, bizContent: #"{"out_trade_no":"R-1","total_amount":"12.34","subject":"充值"}"#,
            timestamp: timestamp, notifyURL: "https://recharge.example/v1/webhooks/alipay")
        #expect(parameters["method"] == "alipay.trade.precreate")
        #expect(parameters["timestamp"] == "2026-11-28 09:29:58")  // Beijing time
        #expect(parameters["sign_type"] == "RSA2")
        #expect(parameters["notify_url"] == "https://recharge.example/v1/webhooks/alipay")
        #expect(parameters["return_url"] == nil)
    }

    @Test(arguments: AlipayTradeMethod.allCases)
    func formBodyDecodesAndVerifiesWithTheMerchantPublicKey(method: AlipayTradeMethod) throws {
        let parameters = signer.parameters(
            method: method, bizContent: #"{"out_trade_no":"R-1","total_amount":"0.01"}"#, timestamp: timestamp)
        let body = try signer.formBody(parameters)
        #expect(body.split(separator: "&").last?.hasPrefix("sign=") == true)
        let decoded = try FormURLEncoding.decode(Array(body.utf8))
        let sign = try #require(decoded["sign"])
        // Unlike a notify, a request signs sign_type too.
        let message = Data(AlipayNotification.signingString(decoded, excluding: ["sign"]).utf8)
        #expect(TestKeys.merchant.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: try #require(Data(base64Encoded: sign))),
            for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5))
        #expect(!TestKeys.stranger.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: try #require(Data(base64Encoded: sign))),
            for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5))
    }
}
