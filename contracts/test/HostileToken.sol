// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only token that calls back into a victim (the channel contract) from inside a
/// transfer touching it, to prove the victim cannot be re-entered to pay out twice.
contract HostileToken is ERC20 {
    address public victim;
    bytes public payload;
    bool public attempted;
    bool public reentered;
    bytes public reentryError;

    constructor(address[] memory holders, uint256 each) ERC20("Hostile", "HST") {
        for (uint256 i; i < holders.length; ++i) {
            _mint(holders[i], each);
        }
    }

    /// @notice The next transfer to or from `victim_` calls `victim_` with `payload_` once.
    function arm(address victim_, bytes calldata payload_) external {
        victim = victim_;
        payload = payload_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address t = victim;
        if (t != address(0) && (from == t || to == t)) {
            victim = address(0);
            attempted = true;
            (bool ok, bytes memory err) = t.call(payload);
            reentered = ok;
            reentryError = err;
        }
    }
}
