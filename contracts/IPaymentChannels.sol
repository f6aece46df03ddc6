// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title PaymentChannels interface
/// @notice Bidirectional ERC-20 payment channels between two participants A (the opener) and B.
/// Each side signs cumulative EIP-712 balance proofs off chain; the chain is touched to open, top
/// up, close cooperatively, or close unilaterally, dispute and settle.
interface IPaymentChannels {
    /// @notice Who is in a channel, and when it was opened.
    /// `channelId == keccak256(abi.encode(a, b, salt, openBlock))`: binding the id to its opening
    /// block means no id can ever recur, so a settled channel's slot is cleared (and refunded).
    struct Participants {
        address a;
        address b;
        uint256 salt;
        uint256 openBlock;
    }

    /// @notice A channel's frozen state while its settle window runs. Its hash is committed on
    /// chain; callers pass it back in calldata (rebuild it from the events).
    struct Closing {
        address a;
        address b;
        uint256 depositA;
        uint256 depositB;
        uint64 nonceA;
        /// Cumulative amount A sent to B, from A's best proof submitted so far.
        uint256 sentA;
        uint64 nonceB;
        /// Cumulative amount B sent to A, from B's best proof submitted so far.
        uint256 sentB;
    }

    /// @notice Where a channel stands. `None`: never opened, or settled and cleared.
    enum Status {
        None,
        Open,
        Closing
    }

    /// @notice A channel with this id exists or existed; ids are never reused.
    error ChannelExists(bytes32 channelId);
    /// @notice A channel cannot be closed cooperatively in the block that opened it (its id could
    /// otherwise be opened again in that block).
    error CloseInOpeningBlock(bytes32 channelId);
    /// @notice Only the channels' token may call `onTransferReceived`.
    error NotToken(address caller);
    /// @notice `onTransferReceived` data is not `abi.encodePacked(bytes32 channelId, bool forB)`.
    error InvalidDepositData(uint256 length);
    /// @notice The channel is not open (it never was, is closing or is settled).
    error ChannelNotOpen(bytes32 channelId);
    /// @notice The channel is not in its settle window.
    error ChannelNotClosing(bytes32 channelId);
    /// @notice The partner is the zero address or the opener itself.
    error InvalidPartner(address partner);
    /// @notice The settle window lies outside the bounds fixed at deployment.
    error SettleWindowOutOfBounds(uint256 settleWindow, uint256 min, uint256 max);
    /// @notice A side's deposit would exceed 2**112 - 1 base units.
    error DepositTooLarge(uint256 total);
    /// @notice The caller is not a participant of the channel.
    error NotParticipant(address caller);
    /// @notice A signature is malformed, malleable, or not by the expected signer.
    error InvalidSignature(address expectedSigner);
    /// @notice Cooperative payouts do not add up to the deposits.
    error PayoutsMismatch(uint256 payouts, uint256 deposits);
    /// @notice A proof with nonce 0 stands for "no proof" and must transfer nothing.
    error EmptyProofTransfers(uint256 transferred);
    /// @notice The submitted proof does not beat the one on chain (higher transferred, or equal
    /// transferred and higher nonce).
    error StaleProof(uint64 nonce, uint256 transferred, uint64 storedNonce, uint256 storedSent);
    /// @notice The closing state passed in calldata is not the one committed on chain.
    error ClosingStateMismatch(bytes32 channelId);
    /// @notice The settle window has ended; no more proofs are taken.
    error SettleWindowOver(uint256 finalizesAt);
    /// @notice The settle window has not ended yet.
    error SettleWindowRunning(uint256 finalizesAt);
    /// @notice Deployment parameters are out of range.
    error InvalidConfig();

    /// @notice A channel was opened by `a` with `b` in block `openBlock`, with A's first deposit.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed a,
        address indexed b,
        uint256 salt,
        uint256 openBlock,
        uint256 deposit,
        uint256 settleWindow
    );
    /// @notice A side's total deposit grew to `total`.
    event Deposited(bytes32 indexed channelId, bool forB, uint256 total);
    /// @notice A participant closed unilaterally with the partner's proof; the window runs until
    /// `finalizesAt`.
    event ChannelClosed(
        bytes32 indexed channelId, address indexed closer, uint64 nonce, uint256 transferred, uint256 finalizesAt
    );
    /// @notice A better proof for one side was recorded during the settle window.
    event ProofUpdated(bytes32 indexed channelId, bool ofB, uint64 nonce, uint256 transferred);
    /// @notice The channel was paid out (cooperatively or after the window); `fee` went to the
    /// platform.
    event ChannelSettled(bytes32 indexed channelId, uint256 payoutA, uint256 payoutB, uint256 fee);

    /// @notice Opens a channel with `partner`, depositing `amount` from the caller (allowance set).
    function open(address partner, uint256 salt, uint256 amount, uint256 settleWindow)
        external
        returns (bytes32 channelId);

    /// @notice `open` with an ERC-2612 permit for `amount`: approve and open in one transaction.
    function openWithPermit(
        address partner,
        uint256 salt,
        uint256 amount,
        uint256 settleWindow,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 channelId);

    /// @notice Adds `amount` from the caller (allowance set) to side B's (`forB`) or side A's deposit.
    function deposit(bytes32 channelId, bool forB, uint256 amount) external;

    /// @notice Pays out at once what both participants signed in a `Settlement`.
    function cooperativeClose(
        Participants calldata p,
        uint256 payoutA,
        uint256 payoutB,
        bytes calldata sigA,
        bytes calldata sigB
    ) external;

    /// @notice A participant closes with the partner's latest proof (nonce 0: none) and starts the
    /// settle window.
    function close(Participants calldata p, uint64 nonce, uint256 transferred, bytes calldata sig) external;

    /// @notice Anyone records a better proof for side A or B (`ofB`) during the settle window.
    function updateProof(
        bytes32 channelId,
        Closing calldata c,
        bool ofB,
        uint64 nonce,
        uint256 transferred,
        bytes calldata sig
    ) external;

    /// @notice Anyone pays the channel out once its settle window has ended.
    function settle(bytes32 channelId, Closing calldata c) external;
}
