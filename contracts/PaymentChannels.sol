// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC1363Receiver} from "@openzeppelin/contracts/interfaces/IERC1363Receiver.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IPaymentChannels} from "./IPaymentChannels.sol";

/// @title tollway payment channels
/// @notice Raiden-style bidirectional channels for one ERC-20 token, one storage slot per channel.
/// @dev Slot layout (see docs/adr/0001-one-slot-per-channel.md):
///   Open:     status 1 | settleWindow << 8 (24 bits) | depositA << 32 (112) | depositB << 144 (112)
///   Closing:  status 2 | finalizesAt << 8 (40 bits)  | top 208 bits of keccak256(abi.encode(Closing))
///   Settled:  0 again (refunded). An id commits to its opening block and cannot be closed in it, so
///             it can never be opened a second time and old proofs can never be replayed.
contract PaymentChannels is IPaymentChannels, IERC1363Receiver, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 internal constant BALANCE_PROOF_TYPEHASH =
        keccak256("BalanceProof(bytes32 channelId,uint64 nonce,uint256 transferred)");
    bytes32 internal constant SETTLEMENT_TYPEHASH =
        keccak256("Settlement(bytes32 channelId,uint256 payoutA,uint256 payoutB)");

    uint256 internal constant OPEN = 1;
    uint256 internal constant CLOSING = 2;
    uint256 internal constant MAX_DEPOSIT = type(uint112).max;
    uint256 internal constant MASK_112 = type(uint112).max;
    uint256 internal constant MASK_24 = type(uint24).max;
    uint256 internal constant MASK_40 = type(uint40).max;
    uint256 internal constant HASH_MASK = ~uint256(type(uint48).max);

    /// @notice The highest commission the contract can be deployed with: 10%.
    uint256 public constant MAX_FEE_BPS = 1000;

    /// @notice The token every channel of this contract holds.
    IERC20 public immutable token;
    /// @notice Receives the commission; the zero address when there is none.
    address public immutable feeRecipient;
    /// @notice Commission on a participant's net gain at settlement, in basis points (<= MAX_FEE_BPS).
    uint256 public immutable feeBps;
    /// @notice Bounds for the settle window an opener chooses, in seconds.
    uint256 public immutable minSettleWindow;
    uint256 public immutable maxSettleWindow;

    /// @notice Packed state per channel id (layout above). Invariant: non-zero exactly while the
    /// channel is open or closing; the contract's token balance is at least the sum of the deposits
    /// of all such channels.
    mapping(bytes32 channelId => uint256 packed) public channels;

    /// @param token_ The channels' ERC-20 token.
    /// @param feeRecipient_ Commission recipient (the zero address with `feeBps_` 0).
    /// @param feeBps_ Commission in basis points, at most MAX_FEE_BPS.
    /// @param minSettleWindow_ Shortest settle window, seconds (>= 1).
    /// @param maxSettleWindow_ Longest settle window, seconds (< 2**24).
    constructor(
        IERC20 token_,
        address feeRecipient_,
        uint256 feeBps_,
        uint256 minSettleWindow_,
        uint256 maxSettleWindow_
    ) EIP712("tollway", "1") {
        if (
            address(token_) == address(0) || feeBps_ > MAX_FEE_BPS || (feeBps_ != 0 && feeRecipient_ == address(0))
                || minSettleWindow_ == 0 || minSettleWindow_ > maxSettleWindow_ || maxSettleWindow_ > MASK_24
        ) revert InvalidConfig();
        token = token_;
        feeRecipient = feeRecipient_;
        feeBps = feeBps_;
        minSettleWindow = minSettleWindow_;
        maxSettleWindow = maxSettleWindow_;
    }

    // ---------------------------------------------------------------- open and deposit

    /// @inheritdoc IPaymentChannels
    function open(address partner, uint256 salt, uint256 amount, uint256 settleWindow)
        external
        returns (bytes32 channelId)
    {
        return _open(partner, salt, amount, settleWindow);
    }

    /// @inheritdoc IPaymentChannels
    function openWithPermit(
        address partner,
        uint256 salt,
        uint256 amount,
        uint256 settleWindow,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 channelId) {
        // A permit can be front-run with the same signature; the allowance it set is what counts,
        // so a failed permit is ignored and transferFrom decides.
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        return _open(partner, salt, amount, settleWindow);
    }

    function _open(address partner, uint256 salt, uint256 amount, uint256 settleWindow)
        internal
        returns (bytes32 channelId)
    {
        if (partner == address(0) || partner == msg.sender) revert InvalidPartner(partner);
        if (settleWindow < minSettleWindow || settleWindow > maxSettleWindow) {
            revert SettleWindowOutOfBounds(settleWindow, minSettleWindow, maxSettleWindow);
        }
        if (amount > MAX_DEPOSIT) revert DepositTooLarge(amount);
        channelId = channelIdOf(msg.sender, partner, salt, block.number);
        if (channels[channelId] != 0) revert ChannelExists(channelId);
        channels[channelId] = OPEN | (settleWindow << 8) | (amount << 32);
        emit ChannelOpened(channelId, msg.sender, partner, salt, block.number, amount, settleWindow);
        if (amount != 0) token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPaymentChannels
    /// @dev Anyone may fund either side: a deposit only ever adds to that side's balance.
    function deposit(bytes32 channelId, bool forB, uint256 amount) external {
        _credit(channelId, forB, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Top-up through the token's ERC-1363 `transferAndCall(channels, amount, data)` with
    /// `data = abi.encodePacked(bytes32 channelId, bool forB)`: the tokens have already arrived, so
    /// no allowance is read or spent.
    function onTransferReceived(address, address, uint256 value, bytes calldata data) external returns (bytes4) {
        if (msg.sender != address(token)) revert NotToken(msg.sender);
        if (data.length != 33) revert InvalidDepositData(data.length);
        _credit(bytes32(data[0:32]), data[32] != 0, value);
        return IERC1363Receiver.onTransferReceived.selector;
    }

    function _credit(bytes32 channelId, bool forB, uint256 amount) internal {
        uint256 packed = channels[channelId];
        if (packed & 0xff != OPEN) revert ChannelNotOpen(channelId);
        uint256 shift = forB ? 144 : 32;
        uint256 total = ((packed >> shift) & MASK_112) + amount;
        if (total > MAX_DEPOSIT) revert DepositTooLarge(total);
        channels[channelId] = (packed & ~(MASK_112 << shift)) | (total << shift);
        emit Deposited(channelId, forB, total);
    }

    // ---------------------------------------------------------------- cooperative close

    /// @inheritdoc IPaymentChannels
    function cooperativeClose(
        Participants calldata p,
        uint256 payoutA,
        uint256 payoutB,
        bytes calldata sigA,
        bytes calldata sigB
    ) external {
        bytes32 channelId = channelIdOf(p.a, p.b, p.salt, p.openBlock);
        uint256 packed = channels[channelId];
        if (packed & 0xff != OPEN) revert ChannelNotOpen(channelId);
        if (block.number == p.openBlock) revert CloseInOpeningBlock(channelId);
        uint256 depositA = (packed >> 32) & MASK_112;
        uint256 depositB = packed >> 144;
        // Both payouts are bounded by the deposits, so a signed settlement can never pay out more
        // than the channel holds.
        if (payoutA + payoutB != depositA + depositB) revert PayoutsMismatch(payoutA + payoutB, depositA + depositB);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SETTLEMENT_TYPEHASH, channelId, payoutA, payoutB)));
        _requireSigner(digest, sigA, p.a);
        _requireSigner(digest, sigB, p.b);
        delete channels[channelId];
        _payOut(channelId, p.a, p.b, depositA, depositB, payoutA, payoutB);
    }

    // ---------------------------------------------------------------- unilateral close and dispute

    /// @inheritdoc IPaymentChannels
    function close(Participants calldata p, uint64 nonce, uint256 transferred, bytes calldata sig) external {
        bytes32 channelId = channelIdOf(p.a, p.b, p.salt, p.openBlock);
        uint256 packed = channels[channelId];
        if (packed & 0xff != OPEN) revert ChannelNotOpen(channelId);
        bool closerIsA = msg.sender == p.a;
        if (!closerIsA && msg.sender != p.b) revert NotParticipant(msg.sender);
        address partner = closerIsA ? p.b : p.a;
        if (nonce == 0) {
            // Nonce 0 means the partner never paid: there is nothing to sign.
            if (transferred != 0) revert EmptyProofTransfers(transferred);
        } else {
            _requireSigner(_balanceProofDigest(channelId, nonce, transferred), sig, partner);
        }
        Closing memory c;
        c.a = p.a;
        c.b = p.b;
        c.depositA = (packed >> 32) & MASK_112;
        c.depositB = packed >> 144;
        if (closerIsA) {
            c.nonceB = nonce;
            c.sentB = transferred;
        } else {
            c.nonceA = nonce;
            c.sentA = transferred;
        }
        uint256 finalizesAt = block.timestamp + ((packed >> 8) & MASK_24);
        channels[channelId] = _closingSlot(c, finalizesAt);
        emit ChannelClosed(channelId, msg.sender, nonce, transferred, finalizesAt);
    }

    /// @inheritdoc IPaymentChannels
    /// @dev A proof only ever costs its signer, so anyone (a watchtower) may submit it. Proofs are
    /// ordered by (transferred, nonce): for proofs an honest receiver accepted that is nonce order,
    /// and a signer cannot block its partner's best proof by signing a high nonce with a low amount.
    function updateProof(
        bytes32 channelId,
        Closing calldata c,
        bool ofB,
        uint64 nonce,
        uint256 transferred,
        bytes calldata sig
    ) external {
        uint256 finalizesAt = _requireClosing(channelId, c);
        if (block.timestamp >= finalizesAt) revert SettleWindowOver(finalizesAt);
        (uint64 storedNonce, uint256 storedSent) = ofB ? (c.nonceB, c.sentB) : (c.nonceA, c.sentA);
        if (transferred < storedSent || (transferred == storedSent && nonce <= storedNonce)) {
            revert StaleProof(nonce, transferred, storedNonce, storedSent);
        }
        _requireSigner(_balanceProofDigest(channelId, nonce, transferred), sig, ofB ? c.b : c.a);
        Closing memory next = c;
        if (ofB) {
            next.nonceB = nonce;
            next.sentB = transferred;
        } else {
            next.nonceA = nonce;
            next.sentA = transferred;
        }
        channels[channelId] = _closingSlot(next, finalizesAt);
        emit ProofUpdated(channelId, ofB, nonce, transferred);
    }

    /// @inheritdoc IPaymentChannels
    function settle(bytes32 channelId, Closing calldata c) external {
        uint256 finalizesAt = _requireClosing(channelId, c);
        if (block.timestamp < finalizesAt) revert SettleWindowRunning(finalizesAt);
        (uint256 payoutA, uint256 payoutB) = computePayouts(c.depositA, c.depositB, c.sentA, c.sentB);
        // The window lasts at least a second, so this block is later than the opening one.
        delete channels[channelId];
        _payOut(channelId, c.a, c.b, c.depositA, c.depositB, payoutA, payoutB);
    }

    // ---------------------------------------------------------------- pure settlement arithmetic

    /// @notice What each side is paid after a unilateral close: A gets its deposit minus what it
    /// sent plus what it received, clamped to [0, deposits] so that payouts always sum to the
    /// deposits, whatever amounts were signed.
    function computePayouts(uint256 depositA, uint256 depositB, uint256 sentA, uint256 sentB)
        public
        pure
        returns (uint256 payoutA, uint256 payoutB)
    {
        uint256 total = depositA + depositB;
        if (sentB >= sentA) {
            uint256 gain = sentB - sentA;
            payoutA = gain >= depositB ? total : depositA + gain;
        } else {
            uint256 loss = sentA - sentB;
            payoutA = loss >= depositA ? 0 : depositA - loss;
        }
        payoutB = total - payoutA;
    }

    /// @notice The commission on a payout: `feeBps` of what exceeds the side's own deposit.
    function computeFee(uint256 payout, uint256 ownDeposit, uint256 bps) public pure returns (uint256) {
        return payout > ownDeposit ? ((payout - ownDeposit) * bps) / 10_000 : 0;
    }

    // ---------------------------------------------------------------- views

    /// @notice The id of the channel `a` opened with `b` under `salt` in block `openBlock`.
    function channelIdOf(address a, address b, uint256 salt, uint256 openBlock) public pure returns (bytes32) {
        return keccak256(abi.encode(a, b, salt, openBlock));
    }

    /// @notice A channel's status with its settle window (open) or the end of its window (closing),
    /// and its deposits while open.
    function channelInfo(bytes32 channelId)
        external
        view
        returns (Status status, uint256 windowOrFinalizesAt, uint256 depositA, uint256 depositB)
    {
        uint256 packed = channels[channelId];
        status = Status(packed & 0xff);
        if (status == Status.Open) {
            return (status, (packed >> 8) & MASK_24, (packed >> 32) & MASK_112, packed >> 144);
        }
        if (status == Status.Closing) return (status, (packed >> 8) & MASK_40, 0, 0);
    }

    /// @notice The EIP-712 digest a participant signs for a balance proof.
    function balanceProofDigest(bytes32 channelId, uint64 nonce, uint256 transferred) external view returns (bytes32) {
        return _balanceProofDigest(channelId, nonce, transferred);
    }

    /// @notice The EIP-712 digest both participants sign for a cooperative close.
    function settlementDigest(bytes32 channelId, uint256 payoutA, uint256 payoutB) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SETTLEMENT_TYPEHASH, channelId, payoutA, payoutB)));
    }

    /// @notice The commitment stored for a channel in its settle window (without status and time).
    function closingHash(Closing calldata c) external pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(c))) & HASH_MASK);
    }

    // ---------------------------------------------------------------- internals

    function _balanceProofDigest(bytes32 channelId, uint64 nonce, uint256 transferred) internal view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BALANCE_PROOF_TYPEHASH, channelId, nonce, transferred)));
    }

    function _closingSlot(Closing memory c, uint256 finalizesAt) internal pure returns (uint256) {
        return (uint256(keccak256(abi.encode(c))) & HASH_MASK) | (finalizesAt << 8) | CLOSING;
    }

    /// @return finalizesAt End of the settle window.
    function _requireClosing(bytes32 channelId, Closing calldata c) internal view returns (uint256 finalizesAt) {
        uint256 packed = channels[channelId];
        if (packed & 0xff != CLOSING) revert ChannelNotClosing(channelId);
        // The calldata preimage must be exactly what was committed, or a caller could invent proofs.
        if (packed & HASH_MASK != uint256(keccak256(abi.encode(c))) & HASH_MASK) {
            revert ClosingStateMismatch(channelId);
        }
        return (packed >> 8) & MASK_40;
    }

    /// @dev Accepts 65-byte (r, s, v) and 64-byte EIP-2098 (r, vs) signatures; OpenZeppelin's ECDSA
    /// rejects high-s (malleable) ones and bad v.
    function _requireSigner(bytes32 digest, bytes calldata sig, address expected) internal pure {
        address signer;
        ECDSA.RecoverError err;
        if (sig.length == 65) {
            (signer, err,) = ECDSA.tryRecover(digest, uint8(sig[64]), bytes32(sig[0:32]), bytes32(sig[32:64]));
        } else if (sig.length == 64) {
            (signer, err,) = ECDSA.tryRecover(digest, bytes32(sig[0:32]), bytes32(sig[32:64]));
        } else {
            revert InvalidSignature(expected);
        }
        if (err != ECDSA.RecoverError.NoError || signer != expected) revert InvalidSignature(expected);
    }

    /// @dev Called after the channel is marked settled (checks-effects-interactions).
    function _payOut(
        bytes32 channelId,
        address a,
        address b,
        uint256 depositA,
        uint256 depositB,
        uint256 payoutA,
        uint256 payoutB
    ) internal {
        uint256 feeA;
        uint256 feeB;
        if (feeBps != 0) {
            feeA = computeFee(payoutA, depositA, feeBps);
            feeB = computeFee(payoutB, depositB, feeBps);
        }
        emit ChannelSettled(channelId, payoutA, payoutB, feeA + feeB);
        if (payoutA != feeA) token.safeTransfer(a, payoutA - feeA);
        if (payoutB != feeB) token.safeTransfer(b, payoutB - feeB);
        if (feeA + feeB != 0) token.safeTransfer(feeRecipient, feeA + feeB);
    }
}
