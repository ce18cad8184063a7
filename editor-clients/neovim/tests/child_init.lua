-- init.lua of the Neovim under test (started by tests/e2e.lua with -u this file).
vim.cmd('filetype plugin on')
vim.cmd('filetype indent off')
vim.o.autoindent = false
vim.o.swapfile = false
vim.o.completeopt = 'menuone,noinsert,popup'
vim.o.shortmess = vim.o.shortmess .. 'I'

local server = assert(os.getenv('FIM_LSP_SERVER'), 'FIM_LSP_SERVER is not set')
local args = { server }
if os.getenv('FIM_LSP_SERVER_LOG') then
  vim.list_extend(args, { '-v', '--log-file', os.getenv('FIM_LSP_SERVER_LOG') })
end

require('fim_lsp').setup({
  cmd = args,
  ghost_text = {
    native = os.getenv('FIM_LSP_NVIM_MODE') == 'native',
    debounce_ms = 100,
  },
  next_edit = { enabled = os.getenv('FIM_LSP_NEXT_EDIT') == '1', debounce_ms = 100 },
  settings = os.getenv('FIM_LSP_E2E_MODEL') and { model = os.getenv('FIM_LSP_E2E_MODEL') } or {},
})
