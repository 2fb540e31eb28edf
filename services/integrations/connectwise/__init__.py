"""The ConnectWise Manage REST client."""
