extension PaymentReference {
    /// Every valid RF reference written inside free text such as a remittance line
    /// (`"Payment RF18 5390 0754 7034 thanks"`), in order of appearance, without duplicates.
    ///
    /// Payers put the reference anywhere, split it into groups, or glue a word after it. A candidate may
    /// end only where the payer's own text has a break (a separator or a non-alphanumeric character), and
    /// the longest candidate whose check digits are right wins: that keeps a trailing word out of the
    /// reference without guessing at arbitrary cut points, each of which would be a 1-in-97 false match.
    public static func references(in text: String) -> [PaymentReference] {
        let scalars = Array(text.unicodeScalars)
        var found: [PaymentReference] = []
        var index = 0
        while index + 1 < scalars.count {
            guard normalizedAlphanumeric(scalars[index]) == "R",
                  normalizedAlphanumeric(scalars[index + 1]) == "F",
                  index == 0 || normalizedAlphanumeric(scalars[index - 1]) == nil
            else {
                index += 1
                continue
            }
            if let (reference, end) = candidate(startingAt: index, in: scalars) {
                if !found.contains(reference) { found.append(reference) }
                index = end
            } else {
                index += 2
            }
        }
        return found
    }

    /// The first valid RF reference in `text`, if any.
    public static func firstReference(in text: String) -> PaymentReference? {
        references(in: text).first
    }

    /// The longest valid reference starting at `start`, and the scalar index just after it.
    private static func candidate(startingAt start: Int, in scalars: [Unicode.Scalar]) -> (PaymentReference, Int)? {
        let longest = 4 + maximumBodyLength
        var compact = String.UnicodeScalarView()
        var breaks: [(length: Int, end: Int)] = []
        var position = start
        while position < scalars.count, compact.count <= longest {
            let scalar = scalars[position]
            if let normalized = normalizedAlphanumeric(scalar) {
                compact.append(normalized)
                position += 1
            } else if isSeparator(scalar) {
                if breaks.last?.length != compact.count { breaks.append((compact.count, position)) }
                position += 1
            } else {
                break
            }
        }
        if compact.count <= longest, breaks.last?.length != compact.count { breaks.append((compact.count, position)) }
        for cut in breaks.reversed() where cut.length >= 5 && cut.length <= longest {
            let text = String(String(compact).prefix(cut.length))
            if let reference = try? PaymentReference(text) { return (reference, cut.end) }
        }
        return nil
    }
}
