import Crypto
import Foundation
import RechargePayments
import Testing
import _CryptoExtras

/// Builds a notification as WeChat Pay's platform does: resource sealed with AES-256-GCM under the APIv3
/// key (ciphertext || tag, base64), body signed over `"<ts>\n<nonce>\n<body>\n"` with the platform key.
struct WeChatPayFixture {
    static let apiV3KeyText = "0123456789abcdefghijklmnopqrstuv"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    static let transactionJSON = #"{"mchid":"1900000109","appid":"wxd678efh567hg6787","out_trade_no":"R-7f3a","transaction_id":"4200000000202611280000000001","trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC","success_time":"2026-11-28T09:29:58+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":1234,"payer_total":1234,"currency":"CNY","payer_currency":"CNY"}}"#

    var timestamp: Int64 = 1_764_290_000
    var nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    var resourceNonce = "fdasflkja484"
    var associatedData = "transaction"
    var algorithm = "AEAD_AES_256_GCM"
    var plaintext = Data(transactionJSON.utf8)
    var sealingKey = apiV3KeyText
    var signingKey = TestKeys.provider

    func body() throws -> Data {
        let sealed = try AES.GCM.seal(
            plaintext, using: SymmetricKey(data: Data(sealingKey.utf8)),
            nonce: try AES.GCM.Nonce(data: Data(resourceNonce.utf8)), authenticating: Data(associatedData.utf8))
        let ciphertext = (sealed.ciphertext + sealed.tag).base64EncodedString()
        return Data(#"{"id":"EV-2018022511223320873","create_time":"2026-11-28T09:30:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"\#(algorithm)","ciphertext":"\#(ciphertext)","associated_data":"\#(associatedData)","nonce":"\#(resourceNonce)"}}"#.utf8)
    }

    func headers(for body: Data) throws -> WeChatPaySignatureHeaders {
        var message = Data("\(timestamp)\n\(nonce)\n".utf8)
        message.append(body)
        message.append(UInt8(ascii: "\n"))
        let signature = try signingKey.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
        return WeChatPaySignatureHeaders(
            timestamp: String(timestamp), nonce: nonce, signature: signature.rawRepresentation.base64EncodedString(),
            serial: Self.serial)
    }
}

@Suite struct WeChatPayNotificationTests {
    let platformKeys = [WeChatPayFixture.serial: TestKeys.provider.publicKey]
    let apiV3Key = try! WeChatPayAPIv3Key(WeChatPayFixture.apiV3KeyText)
    func now(_ fixture: WeChatPayFixture, offset: Int64 = 20) -> Date {
        Date(timeIntervalSince1970: TimeInterval(fixture.timestamp + offset))
    }

    func verify(_ body: Data, _ headers: WeChatPaySignatureHeaders, now: Date) throws -> WeChatPayNotification {
        try WeChatPayNotification.verify(body: body, headers: headers, platformKeys: platformKeys, apiV3Key: apiV3Key, now: now)
    }

    @Test func signedNotificationVerifiesAndDecrypts() throws {
        let fixture = WeChatPayFixture()
        let body = try fixture.body()
        let notification = try verify(body, try fixture.headers(for: body), now: now(fixture))
        #expect(notification.eventType == "TRANSACTION.SUCCESS")
        let transaction = notification.transaction
        #expect(transaction.outTradeNo == "R-7f3a")
        #expect(transaction.transactionID == "4200000000202611280000000001")
        #expect(transaction.tradeState == "SUCCESS")
        #expect(transaction.isPaid)
        #expect(transaction.amount.total == 1234)
        #expect(transaction.amount.currency == "CNY")
        #expect(transaction.mchID == "1900000109")
        #expect(transaction.appID == "wxd678efh567hg6787")
    }

    @Test func headersAreFoundCaseInsensitively() throws {
        let fixture = WeChatPayFixture()
        let body = try fixture.body()
        let h = try fixture.headers(for: body)
        let lowered = WeChatPaySignatureHeaders(headers: [
            "wechatpay-timestamp": h.timestamp!, "WECHATPAY-NONCE": h.nonce!, "Wechatpay-Signature": h.signature!,
            "wechatpay-serial": h.serial!, "content-type": "application/json",
        ])
        #expect(lowered == h)
    }

    @Test func oneChangedBodyByteIsRejected() throws {
        let fixture = WeChatPayFixture()
        var body = try fixture.body()
        let headers = try fixture.headers(for: body)
        let range = try #require(body.range(of: Data("TRANSACTION.SUCCESS".utf8)))
        body[range.lowerBound] = UInt8(ascii: "X")
        #expect(throws: PaymentProviderError.noMatchingSignature(.wechatPay)) {
            try verify(body, headers, now: now(fixture))
        }
    }

    @Test func wrongPlatformKeyIsRejected() throws {
        var fixture = WeChatPayFixture()
        fixture.signingKey = TestKeys.stranger
        let body = try fixture.body()
        #expect(throws: PaymentProviderError.noMatchingSignature(.wechatPay)) {
            try verify(body, try fixture.headers(for: body), now: now(fixture))
        }
    }

    @Test func unknownSerialIsRejected() throws {
        let fixture = WeChatPayFixture()
        let body = try fixture.body()
        var headers = try fixture.headers(for: body)
        headers.serial = "PUB_KEY_ID_0000"
        #expect(throws: PaymentProviderError.unknownPlatformSerial(.wechatPay, serial: "PUB_KEY_ID_0000")) {
            try verify(body, headers, now: now(fixture))
        }
    }

    @Test func staleAndFutureTimestampsAreRejected() throws {
        let fixture = WeChatPayFixture()
        let body = try fixture.body()
        let headers = try fixture.headers(for: body)
        _ = try verify(body, headers, now: now(fixture, offset: 300))
        for offset: Int64 in [301, -301] {
            #expect(throws: PaymentProviderError.timestampOutsideTolerance(
                .wechatPay, timestamp: fixture.timestamp, now: fixture.timestamp + offset, toleranceSeconds: 300)) {
                try verify(body, headers, now: now(fixture, offset: offset))
            }
        }
    }

    @Test func missingHeadersAreNamed() throws {
        let fixture = WeChatPayFixture()
        let body = try fixture.body()
        let full = try fixture.headers(for: body)
        let cases: [(WritableKeyPath<WeChatPaySignatureHeaders, String?>, String)] = [
            (\.timestamp, "Wechatpay-Timestamp"), (\.nonce, "Wechatpay-Nonce"),
            (\.signature, "Wechatpay-Signature"), (\.serial, "Wechatpay-Serial"),
        ]
        for (path, name) in cases {
            var headers = full
            headers[keyPath: path] = nil
            #expect(throws: PaymentProviderError.missingSignatureHeader(.wechatPay, header: name)) {
                try verify(body, headers, now: now(fixture))
            }
        }
    }

    @Test func malformedHeadersAreRejected() throws {
        let fixture = WeChatPayFixture()
        let body = try fixture.body()
        var headers = try fixture.headers(for: body)
        headers.timestamp = "17642900OO"
        #expect(throws: PaymentProviderError.malformedSignatureHeader(.wechatPay, header: "Wechatpay-Timestamp", reason: "not a unix timestamp")) {
            try verify(body, headers, now: now(fixture))
        }
        headers = try fixture.headers(for: body)
        headers.signature = "not base64!"
        #expect(throws: PaymentProviderError.malformedSignatureHeader(.wechatPay, header: "Wechatpay-Signature", reason: "not base64")) {
            try verify(body, headers, now: now(fixture))
        }
    }

    @Test func wrongAPIv3KeyFailsDecryption() throws {
        var fixture = WeChatPayFixture()
        fixture.sealingKey = "vutsrqponmlkjihgfedcba9876543210"
        let body = try fixture.body()
        #expect(throws: PaymentProviderError.decryptionFailed(.wechatPay)) {
            try verify(body, try fixture.headers(for: body), now: now(fixture))
        }
    }

    @Test func wrongAssociatedDataFailsDecryption() throws {
        // Signed by the platform, but the resource was sealed for other associated data than it names.
        var fixture = WeChatPayFixture()
        fixture.associatedData = "transaction"
        var body = try fixture.body()
        body = Data(String(decoding: body, as: UTF8.self)
            .replacingOccurrences(of: #""associated_data":"transaction""#, with: #""associated_data":"refund""#).utf8)
        #expect(throws: PaymentProviderError.decryptionFailed(.wechatPay)) {
            try verify(body, try fixture.headers(for: body), now: now(fixture))
        }
    }

    @Test func otherAlgorithmIsRejected() throws {
        var fixture = WeChatPayFixture()
        fixture.algorithm = "AEAD_SM4_GCM"
        let body = try fixture.body()
        #expect(throws: PaymentProviderError.unsupportedAlgorithm(.wechatPay, algorithm: "AEAD_SM4_GCM")) {
            try verify(body, try fixture.headers(for: body), now: now(fixture))
        }
    }

    @Test func decryptedNonTransactionIsMalformed() throws {
        var fixture = WeChatPayFixture()
        fixture.plaintext = Data(#"{"mchid":"1900000109"}"#.utf8)
        let body = try fixture.body()
        #expect {
            try verify(body, try fixture.headers(for: body), now: now(fixture))
        } throws: { error in
            guard case .malformedBody(.wechatPay, _) = error as? PaymentProviderError else { return false }
            return true
        }
    }

    @Test func apiV3KeyMustBe32Bytes() {
        #expect(throws: PaymentProviderError.invalidKey(.wechatPay, reason: "APIv3 key must be 32 bytes, got 5")) {
            try WeChatPayAPIv3Key("short")
        }
    }
}

@Suite struct WeChatPayRequestSignerTests {
    @Test func authorizationHeaderSignsTheCanonicalMessage() throws {
        let signer = WeChatPayRequestSigner(mchID: "1900000109", serialNo: "ABC123", merchantPrivateKey: TestKeys.merchant)
        let body = Data(#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","amount":{"total":1234,"currency":"CNY"}}"#.utf8)
        let header = try signer.authorization(
            method: "POST", urlPathWithQuery: "/v3/pay/transactions/native", body: body, timestamp: 1_764_290_000,
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242")
        #expect(header.hasPrefix(#"WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature=""#))
        #expect(header.hasSuffix(#"",timestamp="1764290000",serial_no="ABC123""#))
        let signatureText = header.split(separator: "\"")[5]
        var message = Data("POST\n/v3/pay/transactions/native\n1764290000\n593BEC0C930BF1AFEB40B4A08C8FB242\n".utf8)
        message.append(body)
        message.append(UInt8(ascii: "\n"))
        let signature = _RSA.Signing.RSASignature(rawRepresentation: try #require(Data(base64Encoded: String(signatureText))))
        #expect(TestKeys.merchant.publicKey.isValidSignature(signature, for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5))
    }
}
