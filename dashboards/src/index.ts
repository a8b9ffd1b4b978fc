// Public surface of @tokenledger/dashboards: the panel catalog and its two renderings.
export {};
