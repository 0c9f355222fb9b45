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
        var fields: [String: String] = [:]
        var found: [(key: String, range: Range<String.Index>)] = []
        var searchStart = text.startIndex
        for key in keys {
            if let range = text.range(of: key, options: .caseInsensitive, range: searchStart..<text.endIndex) {
                found.append((key, range))
                searchStart = range.upperBound
            }
        }
        for (offset, entry) in found.enumerated() {
            let end = offset + 1 < found.count ? found[offset + 1].range.lowerBound : text.endIndex
            let value = text[entry.range.upperBound..<end].trimmingCharacters(in: .whitespaces)
            fields[entry.key] = value
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
