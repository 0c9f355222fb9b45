import Foundation

/// The state of a short message as an SMSC reports it (SMPP 3.4 §5.2.28 message_state, and the `stat:`
/// word of the receipt text).
public enum SMPPMessageState: UInt8, Sendable, Hashable {
    case enroute = 1
    case delivered = 2
    case expired = 3
    case deleted = 4
    case undeliverable = 5
    case accepted = 6
    case unknown = 7
    case rejected = 8

    /// From the seven-letter word of the receipt text (DELIVRD, UNDELIV …).
    public init?(receiptWord: String) {
        switch receiptWord.uppercased() {
        case "ENROUTE": self = .enroute
        case "DELIVRD", "DELIVERED": self = .delivered
        case "EXPIRED": self = .expired
        case "DELETED": self = .deleted
        case "UNDELIV", "UNDELIVERABLE": self = .undeliverable
        case "ACCEPTD", "ACCEPTED": self = .accepted
        case "UNKNOWN": self = .unknown
        case "REJECTD", "REJECTED": self = .rejected
        default: return nil
        }
    }

    /// Whether no further receipt will follow for the message.
    public var isFinal: Bool { self != .enroute && self != .accepted }

    /// Final and not delivered: the message will never reach the handset.
    public var isFailure: Bool { isFinal && self != .delivered }

    /// The seven-letter word of the receipt text.
    public var receiptWord: String {
        switch self {
        case .enroute: "ENROUTE"
        case .delivered: "DELIVRD"
        case .expired: "EXPIRED"
        case .deleted: "DELETED"
        case .undeliverable: "UNDELIV"
        case .accepted: "ACCEPTD"
        case .unknown: "UNKNOWN"
        case .rejected: "REJECTD"
        }
    }
}

/// A delivery receipt from an SMSC: which submitted message it is about, and what became of it.
///
/// Built from the de-facto standard receipt text (`id:… sub:… dlvrd:… submit date:… done date:… stat:…
/// err:… text:…`, SMPP 3.4 Appendix B) and from the receipted_message_id and message_state TLVs; where both
/// are present the TLVs win, as they are typed and not free text.
public struct SMPPDeliveryReceipt: Sendable, Hashable {
    public var messageID: String
    public var state: SMPPMessageState?
    public var submitted: Int?
    public var delivered: Int?
    public var submitDate: String?
    public var doneDate: String?
    public var errorCode: String?
    public var text: String?

    public init(messageID: String, state: SMPPMessageState?) {
        self.messageID = messageID
        self.state = state
    }

    private static let keys = ["id:", "sub:", "dlvrd:", "submit date:", "done date:", "stat:", "err:", "text:"]

    /// Reads a receipt; nil when neither the text nor the TLVs name a message id.
    public static func parse(text: String, tlvs: [SMPPTLV] = []) -> SMPPDeliveryReceipt? {
        // On the UTF-8 bytes, without Foundation (this runs once per SMS): the keys are ASCII, matched without
        // regard to case, and a multi-byte UTF-8 sequence never contains an ASCII byte, so a key cannot match
        // inside other text's characters.
        let bytes = Array(text.utf8)
        func lowered(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
        func find(_ key: [UInt8], from start: Int) -> Int? {
            guard key.count <= bytes.count - start else { return nil }
            var position = start
            while position + key.count <= bytes.count {
                var index = 0
                while index < key.count, lowered(bytes[position + index]) == key[index] { index += 1 }
                if index == key.count { return position }
                position += 1
            }
            return nil
        }
        var fields: [String: String] = [:]
        var found: [(key: String, start: Int, end: Int)] = []
        var searchStart = 0
        for key in keys {
            let pattern = Array(key.utf8)
            if let start = find(pattern, from: searchStart) {
                found.append((key, start, start + pattern.count))
                searchStart = start + pattern.count
            }
        }
        for (offset, entry) in found.enumerated() {
            var lower = entry.end
            var upper = offset + 1 < found.count ? found[offset + 1].start : bytes.count
            while lower < upper, bytes[lower] == 0x20 || bytes[lower] == 0x09 { lower += 1 }
            while upper > lower, bytes[upper - 1] == 0x20 || bytes[upper - 1] == 0x09 { upper -= 1 }
            fields[entry.key] = String(decoding: bytes[lower..<upper], as: UTF8.self)
        }

        let tlvID = tlvs[tag: SMPPTLV.receiptedMessageIDTag]?.stringValue
        guard let messageID = tlvID ?? fields["id:"], !messageID.isEmpty else { return nil }
        var state = fields["stat:"].flatMap(SMPPMessageState.init(receiptWord:))
        if let raw = tlvs[tag: SMPPTLV.messageStateTag]?.value.first, let tlvState = SMPPMessageState(rawValue: raw) {
            state = tlvState
        }
        var receipt = SMPPDeliveryReceipt(messageID: messageID, state: state)
        receipt.submitted = fields["sub:"].flatMap { Int($0) }
        receipt.delivered = fields["dlvrd:"].flatMap { Int($0) }
        receipt.submitDate = fields["submit date:"]
        receipt.doneDate = fields["done date:"]
        receipt.errorCode = fields["err:"]
        receipt.text = fields["text:"]
        return receipt
    }
}
