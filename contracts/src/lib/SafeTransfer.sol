// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "../interfaces/IERC20.sol";

/// @notice Token and native-coin transfers that revert on failure and accept tokens that return no value.
library SafeTransfer {
    function native(address to, uint256 value) internal {
        (bool ok,) = to.call{value: value}("");
        require(ok, "TransferHelper: TRANSFER_FAILED");
    }

    function token(IERC20 tok, address to, uint256 value) internal {
        _checked(address(tok), abi.encodeCall(IERC20.transfer, (to, value)));
    }

    function tokenFrom(IERC20 tok, address from, address to, uint256 value) internal {
        _checked(address(tok), abi.encodeCall(IERC20.transferFrom, (from, to, value)));
    }

    /// @return ok whether the call succeeded and returned nothing or `true`; no revert
    function tryToken(IERC20 tok, address to, uint256 value) internal returns (bool ok) {
        bytes memory ret;
        (ok, ret) = address(tok).call(abi.encodeCall(IERC20.transfer, (to, value)));
        ok = ok && address(tok).code.length > 0 && (ret.length == 0 || abi.decode(ret, (bool)));
    }

    function _checked(address tok, bytes memory data) private {
        require(tok.code.length > 0, "SafeTransfer: not a token");
        (bool ok, bytes memory ret) = tok.call(data);
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "SafeTransfer: token transfer failed");
    }
}
