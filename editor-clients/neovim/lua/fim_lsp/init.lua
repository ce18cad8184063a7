-- fim-lsp for Neovim: starts the fim-lsp language server and shows its inline suggestions
-- as ghost text. See :help fim_lsp.
local M = {}

local api = vim.api
local NAME = 'fim_lsp'

---@class fim_lsp.Config
M.defaults = {
  --- The server command: a list, or a string looked up on PATH.
  cmd = { 'fim-lsp' },
  --- Filetypes to attach to; nil: every buffer that has a filetype and is a file.
  filetypes = nil,
  --- Filetypes never attached to (also sent to the server as disabledLanguages).
  disabled_filetypes = { 'help', 'gitcommit', 'gitrebase', 'markdown', 'text' },
  --- Files that mark a project root; none found: the file's directory.
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
  --- Server settings (initializationOptions and workspace/configuration `fimLsp`), e.g.
  --- { model = 'qwen2.5-coder-1.5b', nThreads = 4, maxTokens = 64, multiline = 'auto' }.
  settings = {},
  --- Suggestions on (toggle with :FimLsp toggle).
  enabled = true,
  ghost_text = {
    --- Use vim.lsp.inline_completion where it exists (Neovim 0.12+). Its accept-word,
    --- accept-line and dismiss keys are not offered there; set false to use this plugin's
    --- renderer on every version.
    native = true,
    debounce_ms = 150,
    hl_group = 'FimLspGhostText',
  },
  --- The completion-menu source (built-in vim.lsp.completion, Neovim 0.11+); the server also
  --- answers textDocument/completion for nvim-cmp, blink.cmp and omnifunc (<C-x><C-o>).
  --- `menuone`: add "menuone" to 'completeopt' in fim-lsp's buffers, so that a lone item (the
  --- suggestion) shows in a menu where <C-y> accepts it whole (see completion.lua).
  completion = { enabled = true, autotrigger = false, menuone = true },
  --- Insert-mode keys; false turns one off. Keys fall through when no suggestion is shown.
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-Down>',
    dismiss = '<C-]>',
    next = '<M-]>',
    prev = '<M-[>',
    trigger = '<M-\\>',
  },
  --- Next-edit suggestions (fimLsp/inlineEdit): after a change, the edits that follow it near
  --- the cursor, drawn with extmarks (see nextedit.lua). On by default (`enabled = false` turns
  --- it off); on, it sends the server setting `nextEdit = true` (unless `settings.nextEdit` says
  --- otherwise). Keys work in Normal and Insert mode and fall through when no edit is shown.
  next_edit = {
    enabled = true,
    debounce_ms = 300,
    keymaps = { jump = '<M-n>', accept = '<M-y>', dismiss = '<M-e>' },
  },
}

---@type fim_lsp.Config
M.config = vim.deepcopy(M.defaults)

--- Last `fimLsp/status` per client id: { state, message, model }.
---@type table<integer, {state: string, message: string, model: string}>
M.server_status = {}

local function native_available()
  local ic = vim.lsp.inline_completion
  return ic ~= nil and type(ic.enable) == 'function'
end

--- Which renderer draws ghost text: 'native' (vim.lsp.inline_completion) or 'extmarks'.
function M.mode()
  if M.config.ghost_text.native and native_available() then
    return 'native'
  end
  return 'extmarks'
end

--- The server command as a list. The default name, when it is not on PATH, falls back to the
--- link scripts/install.sh makes in ~/.local/bin: that folder is often on a shell's PATH but
--- not on the one an editor started from a desktop launcher inherits.
function M.cmd_list()
  local cmd = M.config.cmd
  if type(cmd) == 'string' then
    cmd = { cmd }
  end
  if cmd[1] == 'fim-lsp' and vim.fn.executable('fim-lsp') ~= 1 then
    local bin = vim.env.XDG_BIN_HOME or ((vim.env.HOME or '') .. '/.local/bin')
    local linked = bin .. '/fim-lsp'
    if vim.fn.executable(linked) == 1 then
      return { linked, unpack(cmd, 2) }
    end
  end
  return cmd
end
local cmd_list = M.cmd_list

--- The settings object the server reads.
function M.server_settings()
  local s = vim.deepcopy(M.config.settings)
  if s.enabled == nil then
    s.enabled = M.config.enabled
  end
  if s.disabledLanguages == nil then
    s.disabledLanguages = M.config.disabled_filetypes
  end
  if s.nextEdit == nil and M.config.next_edit.enabled then
    s.nextEdit = true
  end
  return s
end

local function native_ns()
  return api.nvim_get_namespaces()['nvim.lsp.inline_completion']
end

--- The suggestion shown in the current buffer, or nil. In native mode only whether one is
--- shown is known, so it returns '' then.
---@return string?
function M.visible()
  if M.mode() == 'native' then
    local ns = native_ns()
    if ns and #api.nvim_buf_get_extmarks(0, ns, 0, -1, { limit = 1 }) > 0 then
      return ''
    end
    return nil
  end
  return require('fim_lsp.ghost').visible()
end

-- Actions (also the keymaps' targets). Each returns true when it did something.

function M.accept()
  if M.mode() == 'native' then
    if not native_ns() then
      -- No namespace to look at: trust get(), which returns true when it accepted one.
      return vim.lsp.inline_completion.get() == true
    end
    if M.visible() then
      vim.lsp.inline_completion.get()
      return true
    end
    return false
  end
  return require('fim_lsp.ghost').accept()
end

function M.accept_word()
  return M.mode() == 'extmarks' and require('fim_lsp.ghost').accept_word()
end

function M.accept_line()
  return M.mode() == 'extmarks' and require('fim_lsp.ghost').accept_line()
end

function M.dismiss()
  return M.mode() == 'extmarks' and require('fim_lsp.ghost').dismiss()
end

---@param step integer
function M.cycle(step)
  if M.mode() == 'native' then
    local ic = vim.lsp.inline_completion
    local select = ic.select or ic.jump
    if select and M.visible() then
      select({ count = step })
    end
    return true
  end
  require('fim_lsp.ghost').cycle(step)
  return true
end

function M.trigger()
  if M.mode() == 'native' then
    if not M.visible() then
      vim.lsp.inline_completion.get()
    end
    return true
  end
  require('fim_lsp.ghost').trigger()
  return true
end

--- Calls a client method: `client:m()` on 0.11+, `client.m()` on 0.10.
local function call(client, method, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[method](client, ...)
  end
  return client[method](...)
end

local function clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ name = NAME })
  end
  return vim.lsp.get_active_clients({ name = NAME })
end

local function notify_settings()
  for _, client in ipairs(clients()) do
    client.settings = { fimLsp = M.server_settings() }
    -- The server re-pulls workspace/configuration; the payload is for those that don't.
    call(client, 'notify', 'workspace/didChangeConfiguration', { settings = client.settings })
  end
end

--- Merges `settings` into the server settings and tells running servers (no restart).
---@param settings table
function M.set_settings(settings)
  M.config.settings = vim.tbl_deep_extend('force', M.config.settings, settings or {})
  notify_settings()
end

--- Turns suggestions on or off (nil: flip).
---@param on? boolean
function M.toggle(on)
  if on == nil then
    on = not M.config.enabled
  end
  M.config.enabled = on
  if not on then
    require('fim_lsp.ghost').clear_all()
    require('fim_lsp.nextedit').clear_all()
  end
  if native_available() and M.mode() == 'native' then
    for _, client in ipairs(clients()) do
      for bufnr in pairs(client.attached_buffers or {}) do
        vim.lsp.inline_completion.enable(on, { bufnr = bufnr })
      end
    end
  end
  notify_settings()
  vim.notify(('fim-lsp: suggestions %s'):format(on and 'on' or 'off'), vim.log.levels.INFO)
end

--- A one-line status for statuslines: "fim-lsp: ready (model)".
---@return string
function M.status()
  local client = clients()[1]
  if not client then
    return 'fim-lsp: not running'
  end
  local s = M.server_status[client.id]
  local state = s and s.state or 'starting'
  if not M.config.enabled then
    state = 'off'
  end
  local model = s and s.model ~= '' and (' (' .. s.model .. ')') or ''
  local msg = s and s.message ~= '' and (': ' .. s.message) or ''
  return ('fim-lsp: %s%s%s'):format(state, model, state == 'ready' and '' or msg)
end

local function map(bufnr, lhs, action, desc, modes)
  if not lhs then
    return
  end
  vim.keymap.set(modes or 'i', lhs, function()
    if not action() then
      -- Nothing to act on: the key does what it did before.
      api.nvim_feedkeys(vim.keycode(lhs), 'n', false)
    end
  end, { buffer = bufnr, desc = 'fim-lsp: ' .. desc, silent = true })
end

local function on_attach(client, bufnr)
  local cfg = M.config
  if vim.tbl_contains(cfg.disabled_filetypes, vim.bo[bufnr].filetype) then
    return
  end
  if M.mode() == 'native' then
    vim.lsp.inline_completion.enable(cfg.enabled, { bufnr = bufnr })
  else
    require('fim_lsp.ghost').attach(bufnr, client.id, cfg)
  end
  if cfg.completion.enabled then
    require('fim_lsp.completion').attach(bufnr, client.id, cfg.completion)
  end
  require('fim_lsp.cursor').attach(bufnr, client.id, cfg)
  local k = cfg.keymaps
  map(bufnr, k.accept, M.accept, 'accept suggestion')
  map(bufnr, k.accept_word, M.accept_word, 'accept next word')
  map(bufnr, k.accept_line, M.accept_line, 'accept next line')
  map(bufnr, k.dismiss, M.dismiss, 'dismiss suggestion')
  map(bufnr, k.next, function()
    return M.visible() ~= nil and M.cycle(1)
  end, 'next suggestion')
  map(bufnr, k.prev, function()
    return M.visible() ~= nil and M.cycle(-1)
  end, 'previous suggestion')
  map(bufnr, k.trigger, M.trigger, 'suggest now')
  if cfg.next_edit.enabled then
    local nextedit = require('fim_lsp.nextedit')
    nextedit.attach(bufnr, client.id, cfg)
    local nk = cfg.next_edit.keymaps
    map(bufnr, nk.jump, nextedit.jump, 'jump to the next edit', { 'n', 'i' })
    map(bufnr, nk.accept, nextedit.accept, 'accept the next edit', { 'n', 'i' })
    map(bufnr, nk.dismiss, nextedit.dismiss, 'dismiss the next edits', { 'n', 'i' })
  end
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument = caps.textDocument or {}
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion
    or { dynamicRegistration = false }
  return caps
end

--- The client configuration handed to vim.lsp.config / vim.lsp.start.
function M.client_config()
  return {
    name = NAME,
    cmd = cmd_list(),
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    init_options = M.server_settings(),
    settings = { fimLsp = M.server_settings() },
    capabilities = capabilities(),
    handlers = {
      ['fimLsp/status'] = function(_, params, ctx)
        if type(params) == 'table' then
          M.server_status[ctx.client_id] = {
            state = params.state or '',
            message = params.message or '',
            model = params.model or '',
          }
          api.nvim_exec_autocmds('User', { pattern = 'FimLspStatus', modeline = false })
        end
      end,
    },
    on_attach = on_attach,
  }
end

local function wanted(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.bo[bufnr].filetype == '' then
    return false
  end
  local ft = vim.bo[bufnr].filetype
  if vim.tbl_contains(M.config.disabled_filetypes, ft) then
    return false
  end
  return M.config.filetypes == nil or vim.tbl_contains(M.config.filetypes, ft)
end

local function start_for(bufnr)
  if not wanted(bufnr) then
    return
  end
  local config = M.client_config()
  local file = api.nvim_buf_get_name(bufnr)
  config.root_dir = vim.fs.root(bufnr, M.config.root_markers)
    or (file ~= '' and vim.fs.dirname(file))
    or vim.fn.getcwd()
  config.root_markers = nil
  vim.lsp.start(config, { bufnr = bufnr })
end

local augroup = api.nvim_create_augroup('fim_lsp', { clear = true })

--- Defines FimLspGhostText (unless the user or the colour scheme did) as Comment's colours,
--- plus a grey for terminals without 'termguicolors': Neovim's default scheme gives Comment a
--- GUI colour only, and there the ghost text would look exactly like code.
function M.define_highlight()
  local comment = api.nvim_get_hl(0, { name = 'Comment', link = false })
  api.nvim_set_hl(0, 'FimLspGhostText', {
    fg = comment.fg or 0x808080,
    italic = comment.italic,
    ctermfg = comment.ctermfg or 8,
    cterm = comment.cterm,
    default = true,
  })
  require('fim_lsp.nextedit').define_highlight()
end

--- Starts fim-lsp for matching buffers. Safe to call again: options are merged anew.
---@param opts? fim_lsp.Config
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  if opts and opts.cmd then
    M.config.cmd = opts.cmd -- a list is replaced, not merged index by index
  end
  api.nvim_clear_autocmds({ group = augroup })
  M.define_highlight()
  -- :colorscheme clears the group; define it again for the new scheme.
  api.nvim_create_autocmd('ColorScheme', { group = augroup, callback = M.define_highlight })

  if vim.fn.executable(cmd_list()[1]) ~= 1 then
    vim.notify(
      ('fim-lsp: %q not found. Install it with scripts/install.sh from a fim-lsp checkout '
        .. '(~/.local/bin/fim-lsp) or set cmd in setup(); see :checkhealth fim_lsp'):format(cmd_list()[1]),
      vim.log.levels.ERROR
    )
    return
  end

  if vim.lsp.config and vim.lsp.enable then
    -- Neovim 0.11+: the built-in config registry attaches on FileType for us.
    local config = M.client_config()
    config.filetypes = M.config.filetypes
    config.root_dir = function(bufnr, on_dir)
      if wanted(bufnr) then
        local file = api.nvim_buf_get_name(bufnr)
        on_dir(vim.fs.root(bufnr, M.config.root_markers)
          or (file ~= '' and vim.fs.dirname(file))
          or vim.fn.getcwd())
      end
    end
    config.root_markers = nil
    vim.lsp.config(NAME, config)
    vim.lsp.enable(NAME)
  else
    api.nvim_create_autocmd('FileType', {
      group = augroup,
      callback = function(ev)
        start_for(ev.buf)
      end,
    })
    for _, bufnr in ipairs(api.nvim_list_bufs()) do
      if api.nvim_buf_is_loaded(bufnr) then
        start_for(bufnr)
      end
    end
  end
end

--- Stops the server(s); the next FileType (or :FimLsp restart) starts them again.
function M.stop()
  require('fim_lsp.ghost').clear_all()
  require('fim_lsp.nextedit').clear_all()
  for _, client in ipairs(clients()) do
    call(client, 'stop')
  end
end

function M.restart()
  local bufs = {}
  for _, client in ipairs(clients()) do
    for bufnr in pairs(client.attached_buffers or {}) do
      bufs[#bufs + 1] = bufnr
    end
  end
  M.stop()
  vim.defer_fn(function()
    for _, bufnr in ipairs(bufs) do
      if api.nvim_buf_is_valid(bufnr) then
        if vim.lsp.enable then
          api.nvim_exec_autocmds('FileType', { buffer = bufnr, modeline = false })
        else
          start_for(bufnr)
        end
      end
    end
  end, 500)
end

return M
