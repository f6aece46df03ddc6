// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC1363} from "@openzeppelin/contracts/token/ERC20/extensions/ERC1363.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title tollway token
/// @notice A fixed-supply ERC-20 with ERC-2612 permit and ERC-1363 transferAndCall. Name, symbol,
/// holders and amounts are set at deployment and minted once; there is no mint or burn afterwards.
contract Token is ERC20, ERC20Permit, ERC1363 {
    /// @notice `holders` and `amounts` differ in length, or are empty.
    /// @param holders Number of holders given.
    /// @param amounts Number of amounts given.
    error HoldersMismatch(uint256 holders, uint256 amounts);

    /// @param name_ Token name, also the EIP-712 domain name of its permits.
    /// @param symbol_ Token symbol.
    /// @param holders Initial holders; the total supply is the sum of `amounts`.
    /// @param amounts Amount minted to each holder, in base units.
    constructor(string memory name_, string memory symbol_, address[] memory holders, uint256[] memory amounts)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        if (holders.length != amounts.length || holders.length == 0) {
            revert HoldersMismatch(holders.length, amounts.length);
        }
        for (uint256 i; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
    }
}
